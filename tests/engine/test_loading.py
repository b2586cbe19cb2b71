"""Loading goes through upstream's load_model/load_vocoder, as production weights do."""

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.support.audio import REF_TEXT
from tests.support.helpers import tiny_config
from tts.engine import pool as pool_module
from tts.engine.backends.f5 import FlowMatchingBackend
from tts.engine.engine import TTSEngine
from tts.engine.errors import ModelLoadError, ModelUnavailable
from tts.engine.synthesis import SynthesisParams
from tts.engine.tiny import TINY_DIT, TINY_UNETT, models_toml_entry

FAST = SynthesisParams(nfe_step=4, seed=7)


def one_model_file(folder: Path, name: str, architecture: str, checkpoint: str,
                   config: dict, **options) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(models_toml_entry("m", architecture, checkpoint, config, **options),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("architecture, stem, config", [
    ("DiT", "tiny_dit", TINY_DIT), ("UNetT", "tiny_unett", TINY_UNETT)])
@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_both_architectures_load_from_both_formats_and_speak(
        tiny_dir, ref_bytes, architecture, stem, config, suffix):
    spec_file = one_model_file(tiny_dir, f"one-{stem}-{suffix[1:]}", architecture,
                               stem + suffix, config)
    engine = TTSEngine(tiny_config(tiny_dir, models_file=str(spec_file)))
    assert engine.model_status("m").state == "available"
    ref, _ = engine.prepare_reference(ref_bytes, REF_TEXT)
    result = engine.generate("m", ref, "A few words to say.", FAST)
    assert engine.model_status("m").state == "loaded"
    assert result.sample_rate == 24_000 and result.seconds > 0.3
    assert np.isfinite(result.samples).all() and np.abs(result.samples).max() > 0


def test_custom_model_from_django_settings(settings, tiny_dir, ref_bytes):
    from tests.support.helpers import reset_engine
    from tts.work.runtime import get_engine

    settings.TTS_CUSTOM_CKPT = str(tiny_dir / "tiny_unett.safetensors")
    settings.TTS_CUSTOM_VOCAB = str(tiny_dir / "vocab.txt")
    settings.TTS_CUSTOM_ARCH = "UNetT"
    settings.TTS_CUSTOM_CONFIG = (tiny_dir / "tiny_unett.json").read_text()
    reset_engine()
    engine = get_engine()
    assert engine.registry.get("Custom").architecture == "UNetT"
    ref, _ = engine.prepare_reference(ref_bytes, REF_TEXT)
    assert engine.generate("Custom", ref, "Custom words.", FAST).seconds > 0.3


def test_loads_once_under_concurrency_and_shares_the_vocoder(tiny_dir, monkeypatch):
    calls = []
    real = FlowMatchingBackend.load

    def counting(self, *args, **kwargs):
        calls.append(self.spec.id)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(FlowMatchingBackend, "load", counting)
    engine = TTSEngine(tiny_config(tiny_dir))
    results = []
    threads = [threading.Thread(target=lambda: results.append(engine.pool.acquire("tiny-f5")))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == ["tiny-f5"]
    assert all(lease.backend is results[0].backend for lease in results)
    e2 = engine.pool.acquire("tiny-e2")
    assert e2.backend._vocoder is results[0].backend._vocoder


def test_absent_builtin_is_unavailable_with_reason_and_never_downloads(tiny_dir, no_network):
    engine = TTSEngine(tiny_config(tiny_dir))
    status = engine.model_status("F5-TTS")
    assert status.state == "unavailable"
    assert "TTS_F5_CKPT" in status.reason and "hf://SWivid/F5-TTS" in status.reason
    with pytest.raises(ModelUnavailable, match="TTS_F5_CKPT"):
        engine.load_model("F5-TTS")


def test_downloads_allowed_but_hub_unreachable_fails_fast_with_reason(tiny_dir, no_network):
    # HF_HUB_OFFLINE=1 (set for the suite) makes the hub client refuse at once.
    engine = TTSEngine(tiny_config(tiny_dir, allow_downloads=True))
    assert engine.model_status("E2-TTS").state == "available"  # downloadable, as far as known
    with pytest.raises(ModelUnavailable, match="TTS_E2_CKPT"):
        engine.load_model("E2-TTS")
    status = engine.model_status("E2-TTS")
    assert status.state == "unavailable" and "TTS_E2_CKPT" in status.reason


def test_missing_local_checkpoint_names_the_path(tiny_dir, tmp_path):
    engine = TTSEngine(tiny_config(tiny_dir, f5_ckpt=str(tmp_path / "nope.safetensors")))
    status = engine.model_status("F5-TTS")
    assert status.state == "unavailable" and str(tmp_path / "nope.safetensors") in status.reason


def test_missing_vocoder_is_unavailable(tiny_dir, tmp_path):
    spec_file = one_model_file(tiny_dir, "no-vocoder", "DiT", "tiny_dit.pt", TINY_DIT,
                               vocoder="")  # relies on the engine's default vocoder
    engine = TTSEngine(tiny_config(tiny_dir, models_file=str(spec_file),
                                   vocoder_path=str(tmp_path / "no-vocos")))
    status = engine.model_status("m")
    assert status.state == "unavailable" and "TTS_VOCODER_PATH" in status.reason


def _custom_engine(tiny_dir, checkpoint: Path, architecture="DiT", config=None, vocab=None):
    import json

    return TTSEngine(tiny_config(
        tiny_dir, custom_ckpt=str(checkpoint), custom_arch=architecture,
        custom_vocab=str(vocab or tiny_dir / "vocab.txt"),
        custom_config=json.dumps(config or TINY_DIT)))


@pytest.mark.parametrize("name, content", [
    ("garbage.safetensors", b"this is not a safetensors file at all"),
    ("garbage.pt", b"\x80\x04 not a pickle either"),
])
def test_corrupt_checkpoint_raises_model_load_error(tiny_dir, tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    engine = _custom_engine(tiny_dir, path)
    with pytest.raises(ModelLoadError, match="does not load"):
        engine.load_model("Custom")
    assert engine.model_status("Custom").state == "unavailable"


def test_checkpoint_of_another_architecture_raises_model_load_error(tiny_dir):
    engine = _custom_engine(tiny_dir, tiny_dir / "tiny_dit.safetensors", "UNetT", TINY_UNETT)
    with pytest.raises(ModelLoadError, match="UNetT"):
        engine.load_model("Custom")


def test_checkpoint_with_another_vocab_size_raises_model_load_error(tiny_dir, tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(f"{c}\n" for c in " abc"), encoding="utf-8")
    engine = _custom_engine(tiny_dir, tiny_dir / "tiny_dit.pt", vocab=vocab)
    with pytest.raises(ModelLoadError):
        engine.load_model("Custom")


class _Payload:
    """Unpickling this runs code: it would create the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_code_in_a_pt_file_is_refused(tiny_dir, tmp_path):
    """torch.load(weights_only=True): a .pt that would run code on load does not load."""
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"ema_model_state_dict": {"x": _Payload(marker)}}, path)
    engine = _custom_engine(tiny_dir, path)
    with pytest.raises(ModelLoadError, match="Unpickl|weights_only"):
        engine.load_model("Custom")
    assert not marker.exists()


def test_vocoder_config_naming_other_classes_is_refused(tiny_dir, tmp_path):
    """Vocos builds whatever class its config.yaml names: only vocos' own are allowed."""
    import shutil

    marker = tmp_path / "code-ran"
    vocos = shutil.copytree(tiny_dir / "vocos", tmp_path / "vocos")
    config = (vocos / "config.yaml").read_text()
    (vocos / "config.yaml").write_text(config.replace(
        "vocos.heads.ISTFTHead", "pathlib.Path.touch").replace("dim: 64\n    hop", "hop"))
    spec_file = one_model_file(tmp_path, "evil", "DiT", str(tiny_dir / "tiny_dit.pt"), TINY_DIT,
                               vocab=str(tiny_dir / "vocab.txt"), vocoder=str(vocos))
    engine = TTSEngine(tiny_config(tiny_dir, models_file=str(spec_file)))
    with pytest.raises(ModelLoadError, match="outside the vocos package"):
        engine.load_model("m")
    assert not marker.exists()


def test_a_broken_checkpoint_stays_unavailable_until_the_file_changes(
        tiny_dir, tmp_path, monkeypatch):
    path = tmp_path / "later.safetensors"
    path.write_bytes(b"not yet complete")
    engine = _custom_engine(tiny_dir, path)
    with pytest.raises(ModelLoadError):
        engine.load_model("Custom")
    monkeypatch.setattr(pool_module, "UNAVAILABLE_MEMORY_SECONDS", 0)
    assert engine.model_status("Custom").state == "unavailable"  # no timer retries a bad file
    with pytest.raises(ModelLoadError):  # refused at once, without loading again
        engine.admit("Custom")
    path.write_bytes((tiny_dir / "tiny_dit.safetensors").read_bytes())  # the copy finished
    assert engine.model_status("Custom").state == "available"
    engine.load_model("Custom")
    assert engine.model_status("Custom").state == "loaded"


def test_unavailable_weights_are_remembered_for_a_while_then_retried(
        tiny_dir, tmp_path, monkeypatch):
    engine = TTSEngine(tiny_config(tiny_dir, allow_downloads=True))
    with pytest.raises(ModelUnavailable):
        engine.load_model("E2-TTS")  # the hub is unreachable (HF_HUB_OFFLINE=1)
    assert engine.model_status("E2-TTS").state == "unavailable"
    monkeypatch.setattr(pool_module, "UNAVAILABLE_MEMORY_SECONDS", 0)
    assert engine.model_status("E2-TTS").state == "available"  # worth another try
