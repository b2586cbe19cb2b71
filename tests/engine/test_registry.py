import json

import pytest

from tts.engine.config import EngineConfig
from tts.engine.errors import ConfigurationError, ModelNotFound
from tts.engine.registry import ModelRegistry, custom_spec, specs_from_file


def test_builtins_mirror_upstream_architectures():
    registry = ModelRegistry.from_config(EngineConfig(allow_downloads=False))
    f5, e2 = registry.get("F5-TTS"), registry.get("E2-TTS")
    assert f5.architecture == "DiT"
    assert {k: f5.config[k] for k in ("dim", "depth", "heads", "ff_mult", "text_dim",
                                      "conv_layers")} == {
        "dim": 1024, "depth": 22, "heads": 16, "ff_mult": 2, "text_dim": 512, "conv_layers": 4}
    assert f5.checkpoint == "hf://SWivid/F5-TTS/F5TTS_v1_Base/model_1250000.safetensors"
    assert e2.architecture == "UNetT"
    assert {k: e2.config[k] for k in ("dim", "depth", "heads", "ff_mult", "text_mask_padding",
                                      "pe_attn_head")} == {
        "dim": 1024, "depth": 24, "heads": 16, "ff_mult": 4, "text_mask_padding": False,
        "pe_attn_head": 1}
    assert e2.checkpoint == "hf://SWivid/E2-TTS/E2TTS_Base/model_1200000.safetensors"
    assert "Custom" not in registry  # listed only when configured


def test_paths_override_hub_uris(tmp_path):
    config = EngineConfig(f5_ckpt=str(tmp_path / "f5.safetensors"), e2_ckpt="/w/e2.pt",
                          e2_vocab="/w/vocab.txt")
    registry = ModelRegistry.from_config(config)
    assert registry.get("F5-TTS").checkpoint == str(tmp_path / "f5.safetensors")
    assert registry.get("E2-TTS").vocab == "/w/vocab.txt"


def test_custom_model_from_plain_settings():
    config = EngineConfig(custom_ckpt="/m/model.pt", custom_vocab="/m/vocab.txt",
                          custom_arch="UNetT", custom_config=json.dumps({"dim": 64, "depth": 2}))
    spec = ModelRegistry.from_config(config).get("Custom")
    assert (spec.architecture, spec.config, spec.checkpoint, spec.vocab) == (
        "UNetT", {"dim": 64, "depth": 2}, "/m/model.pt", "/m/vocab.txt")


@pytest.mark.parametrize("field, value, message", [
    ("custom_arch", "Transformer", "TTS_CUSTOM_ARCH"),
    ("custom_config", "{not json", "TTS_CUSTOM_CONFIG"),
])
def test_custom_model_bad_settings_say_which_variable(field, value, message):
    with pytest.raises(ValueError, match=message):
        custom_spec(EngineConfig(custom_ckpt="/m/model.pt", **{field: value}))


def test_models_file_toml_and_json_resolve_relative_paths(tmp_path):
    (tmp_path / "a.toml").write_text(
        '[[models]]\nid = "mine"\narchitecture = "DiT"\ncheckpoint = "ckpt/model.pt"\n'
        'vocab = "vocab.txt"\nconfig = { dim = 8 }\n', encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({"models": [
        {"id": "theirs", "architecture": "UNetT", "checkpoint": "hf://o/r/m.safetensors"}]}))
    mine = specs_from_file(tmp_path / "a.toml")[0]
    theirs = specs_from_file(tmp_path / "b.json")[0]
    assert mine.checkpoint == str(tmp_path / "ckpt" / "model.pt")
    assert mine.vocab == str(tmp_path / "vocab.txt")
    assert mine.config == {"dim": 8}
    assert theirs.checkpoint == "hf://o/r/m.safetensors"
    assert theirs.architecture == "UNetT"


def test_models_file_rejects_unknown_architecture(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('[[models]]\nid = "x"\narchitecture = "RNN"\ncheckpoint = "m.pt"\n')
    with pytest.raises(ConfigurationError, match="unknown architecture"):
        specs_from_file(path)


def test_unknown_model_names_the_available_ones(tiny_engine):
    with pytest.raises(ModelNotFound) as caught:
        tiny_engine.registry.get("F6-TTS")
    assert "tiny-f5" in str(caught.value) and "/api/tts/models/" in str(caught.value)
