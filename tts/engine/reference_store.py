"""A prepared reference as bytes and back, so a saved voice survives a restart without being
decoded, clipped or transcribed again.

The format is a NumPy ``.npz`` archive: the float32 samples and one JSON string of metadata.
Loading never unpickles (``allow_pickle=False``), so a tampered file cannot run code; anything
malformed is a ``ReferenceFormatError``.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from .errors import EngineError
from .reference import ClipInfo, PreparedReference

FORMAT_VERSION = 1


class ReferenceFormatError(EngineError):
    """Stored bytes are not a prepared reference this version can read."""

    code = "stored_reference_unreadable"


def dump_reference(ref: PreparedReference) -> bytes:
    meta = {
        "version": FORMAT_VERSION, "sample_rate": ref.sample_rate, "ref_text": ref.ref_text,
        "transcribed": ref.transcribed,
        "clip": {"original_seconds": ref.clip.original_seconds,
                 "kept_start": ref.clip.kept_start, "kept_end": ref.clip.kept_end,
                 "clipped": ref.clip.clipped},
        "report": ref.report,
    }
    arrays = {"samples": np.asarray(ref.samples, dtype=np.float32),
              "meta": np.array(json.dumps(meta))}
    if ref.voiceprint is not None:  # optional: older files have none (computed on use)
        arrays["voiceprint"] = np.asarray(ref.voiceprint, dtype=np.float32)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def load_reference(data: bytes) -> PreparedReference:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            samples = archive["samples"].astype(np.float32, copy=True)
            meta = json.loads(str(archive["meta"]))
            voiceprint = (archive["voiceprint"].astype(np.float32, copy=True)
                          if "voiceprint" in archive.files else None)
        if meta.get("version") != FORMAT_VERSION:
            raise ReferenceFormatError(
                f"Stored reference has format version {meta.get('version')!r}; this server "
                f"reads version {FORMAT_VERSION}. Create the voice again.")
        return PreparedReference(
            samples=samples, sample_rate=int(meta["sample_rate"]), ref_text=meta["ref_text"],
            clip=ClipInfo(**meta["clip"]), transcribed=bool(meta["transcribed"]),
            voiceprint=voiceprint, report=meta.get("report"))
    except ReferenceFormatError:
        raise
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise ReferenceFormatError(
            f"Stored reference is unreadable ({type(exc).__name__}); create the voice "
            "again.") from exc
