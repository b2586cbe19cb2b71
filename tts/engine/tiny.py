"""Tiny, randomly initialised checkpoints of the real architectures, in upstream's formats.

They load through exactly the code path that production weights take and run the whole
pipeline on a CPU in well under a second. Their weights are random: what they say is noise.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import yaml

TINY_DIT = {"dim": 64, "depth": 2, "heads": 2, "dim_head": 32, "ff_mult": 2, "text_dim": 32,
            "conv_layers": 2}
TINY_UNETT = {"dim": 64, "depth": 2, "heads": 2, "dim_head": 32, "ff_mult": 2,
              "text_mask_padding": False, "pe_attn_head": 1}
TINY_VOCOS_DIMS = {"dim": 64, "intermediate_dim": 128, "num_layers": 2}
MEL = {"n_fft": 1024, "hop_length": 256, "win_length": 1024, "n_mel_channels": 100,
       "target_sample_rate": 24000, "mel_spec_type": "vocos"}
NOISE_NOTE = "Random weights: its output is noise. For trying the API and for tests only."
#: Space first: index 0 doubles as "unknown character" in upstream's tokenizer.
VOCAB = [" "] + list(string.ascii_lowercase + string.ascii_uppercase + string.digits
                     + ".,;:!?'\"-()")


def write_vocab(path: Path, tokens: list[str] = VOCAB) -> Path:
    # Upstream drops the last character of every line: each line must end with "\n".
    path.write_text("".join(f"{token}\n" for token in tokens), encoding="utf-8")
    return path


def build_cfm(architecture: str, config: dict[str, Any], vocab: list[str] = VOCAB):
    """A CFM model as upstream's ``load_model`` builds it, with weights that actually vary."""
    import torch
    from f5_tts.model import CFM

    from .registry import backbone_class

    backbone = backbone_class(architecture)
    model = CFM(
        transformer=backbone(**config, text_num_embeds=len(vocab), mel_dim=MEL["n_mel_channels"]),
        mel_spec_kwargs=MEL,
        vocab_char_map={token: index for index, token in enumerate(vocab)},
    )
    # Upstream zero-initialises the adaptive-norm modulation and output projection, so a fresh
    # model predicts zero velocity and returns its input noise whatever the text: re-randomise.
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.ndim > 1 and not parameter.any():
                torch.nn.init.normal_(parameter, std=0.02)
    return model


def save_checkpoint(model, path: Path) -> Path:
    """``.safetensors``: the EMA state dict itself; ``.pt``: upstream's training format,
    ``{"ema_model_state_dict": {"ema_model.<key>": …, "initted": …, "step": …}}``."""
    import torch

    state = {key: value.detach().clone().contiguous() for key, value in
             model.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        ema = {f"ema_model.{key}": value for key, value in state.items()}
        ema.update(initted=torch.tensor(True), step=torch.tensor(1))
        torch.save({"ema_model_state_dict": ema}, path)
    return path


def write_vocos(folder: Path, seed: int = 0, dims: dict[str, int] = TINY_VOCOS_DIMS) -> Path:
    """A random Vocos (mel 24 kHz, 100 bands, hop 256; tiny unless ``dims`` say otherwise) as
    ``config.yaml`` + ``pytorch_model.bin``, the layout ``load_vocoder(is_local=True)`` reads."""
    import torch
    from vocos import Vocos

    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "feature_extractor": {"class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
                              "init_args": {"sample_rate": 24000, "n_fft": 1024,
                                            "hop_length": 256, "n_mels": 100,
                                            "padding": "center"}},
        "backbone": {"class_path": "vocos.models.VocosBackbone",
                     "init_args": {"input_channels": 100, "dim": dims["dim"],
                                   "intermediate_dim": dims["intermediate_dim"],
                                   "num_layers": dims["num_layers"]}},
        "head": {"class_path": "vocos.heads.ISTFTHead",
                 "init_args": {"dim": dims["dim"], "n_fft": 1024, "hop_length": 256,
                               "padding": "center"}},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    torch.manual_seed(seed)
    vocos = Vocos.from_hparams(str(folder / "config.yaml"))
    torch.save(vocos.state_dict(), folder / "pytorch_model.bin")
    return folder


def write_tiny_models(folder: str | Path, *, seed: int = 0) -> Path:
    """Write tiny DiT and UNetT checkpoints (both formats), vocab, Vocos and ``models.toml``.

    Returns the models file, ready for ``TTS_MODELS_FILE``.
    """
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_vocab(folder / "vocab.txt")
    write_vocos(folder / "vocos", seed=seed)
    for offset, (name, architecture, config) in enumerate(
            (("tiny_dit", "DiT", TINY_DIT), ("tiny_unett", "UNetT", TINY_UNETT))):
        torch.manual_seed(seed + 1 + offset)
        model = build_cfm(architecture, config)
        save_checkpoint(model, folder / f"{name}.safetensors")
        save_checkpoint(model, folder / f"{name}.pt")
        (folder / f"{name}.json").write_text(json.dumps(config), encoding="utf-8")
    models_file = folder / "models.toml"
    models_file.write_text(_models_toml(), encoding="utf-8")
    return models_file


def models_toml_entry(model_id: str, architecture: str, checkpoint: str, config: dict, *,
                      name: str = "", vocab: str = "vocab.txt", vocoder: str = "vocos",
                      description: str = "") -> str:
    """One ``[[models]]`` table of a models file (paths relative to the file's folder)."""
    lines = [f"id = {json.dumps(model_id)}", f"name = {json.dumps(name or model_id)}",
             f"architecture = {json.dumps(architecture)}",
             f"checkpoint = {json.dumps(checkpoint)}", f"vocab = {json.dumps(vocab)}",
             f"description = {json.dumps(description)}"]
    if vocoder:
        lines.append(f"vocoder = {json.dumps(vocoder)}")
    inline = ", ".join(f"{key} = {json.dumps(value)}" for key, value in config.items())
    lines.append(f"config = {{ {inline} }}")
    return "[[models]]\n" + "\n".join(lines) + "\n"


def _models_toml() -> str:
    header = "# Written by `manage.py make_tiny_models`. " + NOISE_NOTE + "\n\n"
    return header + "\n".join(
        models_toml_entry(model_id, architecture, checkpoint, config, name=name,
                          description=f"Tiny {architecture} ({name}). {NOISE_NOTE}")
        for model_id, name, architecture, checkpoint, config in (
            ("tiny-f5", "tiny F5-TTS", "DiT", "tiny_dit.safetensors", TINY_DIT),
            ("tiny-e2", "tiny E2-TTS", "UNetT", "tiny_unett.pt", TINY_UNETT)))
