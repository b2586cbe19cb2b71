"""A PNG of a mel spectrogram, drawn on its own matplotlib Figure (no pyplot state, no file)."""

from __future__ import annotations

import io

import numpy as np


def render_spectrogram(mel: np.ndarray) -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 4))
    axes = figure.subplots()
    image = axes.imshow(mel, origin="lower", aspect="auto")
    figure.colorbar(image, ax=axes)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
