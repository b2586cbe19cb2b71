"""One declared configuration: settings, engine config and docs derive from config/options.py;
configuration mistakes stop the server with one clear message, never a traceback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from config.options import TTSSettings, env_name, settings_table
from tts.engine.config import EngineConfig
from tts.engine.errors import ConfigurationError
from tts.engine.registry import ModelRegistry

ROOT = Path(__file__).resolve().parents[1]
#: EngineConfig fields that are engine constants, not operator settings.
ENGINE_ONLY = {"max_ref_clip_seconds"}


def manage(*args: str, env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items()
            if not key.startswith(("TTS_", "DJANGO_", "HOST"))}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=timeout)


def test_docs_settings_table_is_generated_from_the_declarations():
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    block = page.split("<!-- settings:start -->")[1].split("<!-- settings:end -->")[0]
    assert block.strip() == settings_table().strip(), (
        "docs/configuration.md out of date: run "
        "`manage.py settings_table --write docs/configuration.md`")
    for name in TTSSettings.model_fields:
        assert f"`{env_name(name)}`" in block


def test_every_declared_setting_is_a_django_setting_and_documented(settings):
    for name, info in TTSSettings.model_fields.items():
        assert hasattr(settings, env_name(name)), name
        assert info.description, f"{name} has no documentation"


def test_engine_config_is_derived_from_the_declarations(settings):
    from tts.work.runtime import engine_config

    declared = set(TTSSettings.model_fields)
    missing = {item.name for item in fields(EngineConfig)} - declared - ENGINE_ONLY
    assert not missing, f"EngineConfig fields without a TTS_* declaration: {missing}"
    settings.TTS_MAX_QUEUE = 3
    settings.TTS_REF_CACHE_MB = 17
    config = engine_config()
    assert (config.max_queue, config.ref_cache_mb) == (3, 17)


def test_values_are_typed_and_derived_defaults_follow_demo_mode(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("TTS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TTS_DEMO", "true")
    monkeypatch.setenv("TTS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("TTS_PRELOAD", "tiny-f5, tiny-e2")
    monkeypatch.setenv("TTS_MAX_QUEUE", "3")
    monkeypatch.setenv("TTS_ASR_LANGUAGE", "")  # empty means unset
    values = TTSSettings()
    assert values.max_queue == 3 and values.demo is True
    assert values.preload == ["tiny-f5", "tiny-e2"]
    assert values.default_model == "tiny-f5"
    assert values.models_file == str(tmp_path / "tiny-models" / "models.toml")
    assert values.asr_language is None


@pytest.mark.parametrize("variable, value, words", [
    ("TTS_MAX_QUEUE", "eight", "valid integer"),
    ("TTS_CUSTOM_ARCH", "Transformer", "'DiT' or 'UNetT'"),
    ("TTS_CUSTOM_CONFIG", "[1, 2]", "JSON object"),
    ("TTS_MAX_UPLOAD_MB", "-1", "greater than 0"),
])
def test_a_bad_variable_stops_manage_py_with_one_clear_message(tmp_path, variable, value, words):
    done = manage("check", env={"TTS_VAR_DIR": str(tmp_path), variable: value})
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert variable in done.stderr and words in done.stderr, done.stderr


def test_importing_settings_writes_nothing_and_migrate_prepares_var(tmp_path):
    var = tmp_path / "var"
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); "
         "from django.conf import settings; print(settings.SECRET_KEY[:10])"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "TTS_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "config.settings"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ephemeral-" and not var.exists()
    done = manage("migrate", "--noinput", env={"TTS_VAR_DIR": str(var)})
    assert done.returncode == 0, done.stderr
    key = var / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_text()) > 40
    assert (var / "db.sqlite3").exists()
    done = manage("check", env={"TTS_VAR_DIR": str(var)})
    assert done.returncode == 0 and "tts.W002" not in done.stderr, done.stderr


def test_in_celery_mode_the_rate_limit_cache_is_the_brokers_redis(tmp_path):
    probe = ("import django; django.setup(); from django.conf import settings; "
             "print(settings.CACHES['default']['BACKEND'], settings.CACHES['default']['LOCATION'])")
    base = {**os.environ, "TTS_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings",
            "CELERY_BROKER_URL": "redis://10.0.0.5:6379/2"}
    base.pop("CACHE_URL", None)

    def cache_of(**env: str) -> str:
        done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                              text=True, timeout=120, env={**base, **env})
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert cache_of(TTS_EXECUTION="celery") == (
        "django.core.cache.backends.redis.RedisCache redis://10.0.0.5:6379/2")
    assert cache_of(TTS_EXECUTION="inline").startswith(
        "django.core.cache.backends.locmem.LocMemCache")
    assert cache_of(TTS_EXECUTION="celery", CACHE_URL="locmemcache://").startswith(
        "django.core.cache.backends.locmem.LocMemCache")


@pytest.mark.parametrize("env, ok", [
    ({"HOST": "0.0.0.0"}, False),
    ({"HOST": "0.0.0.0", "DJANGO_SECRET_KEY": "k3y-Z" * 11}, False),
    ({"HOST": "0.0.0.0", "DJANGO_SECRET_KEY": "k3y-Z" * 11, "DJANGO_ALLOWED_HOSTS": "tts.example"},
     True),
    ({"HOST": "0.0.0.0", "TTS_DEMO": "1"}, True),
    ({"HOST": "127.0.0.1"}, True),
])
def test_listening_beyond_loopback_needs_secret_key_and_allowed_hosts(tmp_path, env, ok):
    done = manage("settings_table", env={"TTS_VAR_DIR": str(tmp_path), **env})
    assert (done.returncode == 0) == ok, done.stderr
    assert "Traceback" not in done.stderr
    if not ok:
        assert "DJANGO_ALLOWED_HOSTS" in done.stderr and "HOST=0.0.0.0" in done.stderr


def test_loopback_default_hosts_are_not_a_wildcard(settings):
    assert "*" not in settings.ALLOWED_HOSTS


# --- models file ------------------------------------------------------------------------------
GOOD = {"id": "mine", "architecture": "DiT", "checkpoint": "mine.safetensors"}


def _toml(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def write_models(folder: Path, document, suffix: str = ".toml") -> Path:
    path = folder / f"models{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(document), encoding="utf-8")
    else:  # entries are flat apart from `config`; strings and numbers read the same in TOML
        tables = ["[[models]]\n" + "".join(f"{key} = {_toml(value)}\n"
                                           for key, value in entry.items())
                  for entry in document["models"]]
        path.write_text("\n".join(tables), encoding="utf-8")
    return path


@pytest.mark.parametrize("entries, words", [
    ([{**GOOD, "checkpoint": 5}], ["models[0] (id 'mine')", "'checkpoint'", "valid string"]),
    ([{**GOOD, "checkpoint_path": "x.pt"}], ["'checkpoint_path'", "unknown key"]),
    ([GOOD, {**GOOD, "checkpoint": "other.pt"}], ["models[1] (id 'mine')", "'id'",
                                                  "already used by models[0]"]),
    ([{**GOOD, "id": "F5-TTS"}], ["models[0] (id 'F5-TTS')", "built-in"]),
    ([{**GOOD, "id": "Custom"}], ["built-in"]),
    ([{**GOOD, "checkpoint": "weights.bin"}], ["'checkpoint'", ".safetensors or .pt"]),
    ([{**GOOD, "checkpoint": "hf://owner/repo"}], ["'checkpoint'", "hf://owner/repo/path"]),
    ([{**GOOD, "vocoder": "."}], ["'vocoder'", "not a folder"]),  # replaced below
    ([{**GOOD, "vocab": "."}], ["'vocab'", "is not a file"]),
    ([{**GOOD, "config": "dim 64"}], ["'config'", "valid dictionary"]),
    ([{**GOOD, "architecture": "RNN"}], ["'architecture'", "unknown architecture"]),
    ([{"name": "no id", "checkpoint": "m.pt"}], ["models[0]", "'id'", "Field required"]),
])
@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_models_file_mistakes_name_file_entry_and_field(tmp_path, entries, words, suffix):
    if entries[0].get("vocoder") == ".":
        (tmp_path / "vocos.txt").write_text("a file, not a Vocos folder")
        entries = [{**entries[0], "vocoder": "vocos.txt"}]
        words = ["'vocoder'", "is not a folder"]
    path = write_models(tmp_path, {"models": entries}, suffix)
    with pytest.raises(ConfigurationError) as caught:
        ModelRegistry.from_config(EngineConfig(models_file=str(path), allow_downloads=False))
    message = caught.value.message
    assert str(path) in message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("text, words", [
    ('[{"id": "x", "checkpoint": "x.pt"}]', ["top level", "list"]),
    ('{"models": [], "extra": 1}', ["'extra'", "unknown key"]),
    ('{"models": [', ["not valid JSON"]),
])
def test_models_file_structure_mistakes(tmp_path, text, words):
    path = tmp_path / "models.json"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        ModelRegistry.from_config(EngineConfig(models_file=str(path)))
    for word in words:
        assert word in caught.value.message


def test_valid_models_file_loads_with_missing_weights_listed_not_refused(tmp_path):
    path = write_models(tmp_path, {"models": [GOOD]})
    spec = ModelRegistry.from_config(EngineConfig(models_file=str(path))).get("mine")
    assert spec.checkpoint == str(tmp_path / "mine.safetensors")


def test_manage_py_check_prints_a_models_file_mistake_without_a_traceback(tmp_path):
    path = write_models(tmp_path, {"models": [{**GOOD, "checkpoint": 5}]}, ".json")
    done = manage("check", env={"TTS_VAR_DIR": str(tmp_path), "TTS_MODELS_FILE": str(path)})
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert "tts.E001" in done.stderr and "models[0] (id 'mine')" in done.stderr
    assert "'checkpoint'" in done.stderr


# --- machine checks ---------------------------------------------------------------------------
def test_check_fails_without_ffmpeg(monkeypatch, tmp_path):
    from tts.checks import audio_tools

    monkeypatch.setenv("PATH", str(tmp_path))
    assert "tts.E005" in [error.id for error in audio_tools(None)]


def test_check_fails_for_an_output_format_libsndfile_cannot_write(monkeypatch):
    from tts.checks import audio_tools
    from tts.engine import audio

    assert audio_tools(None) == []  # this machine can encode every format
    monkeypatch.setitem(audio.OUTPUT_FORMATS, "broken",
                        audio.OutputFormat("broken", "audio/x-broken", "x", "MP3", "PCM_16"))
    errors = audio_tools(None)
    assert [error.id for error in errors] == ["tts.E006"]
    assert "output_format=broken" in errors[0].msg


def test_every_tts_setting_the_code_reads_is_declared():
    import re

    declared = {env_name(name) for name in TTSSettings.model_fields}
    read = set()
    for path in [*(ROOT / "tts").rglob("*.py"), *(ROOT / "config").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        read |= set(re.findall(r"settings\.(TTS_[A-Z0-9_]+)", text))
        read |= set(re.findall(r"environ\.get\(\"(TTS_[A-Z0-9_]+)\"", text))
    assert read - declared == set(), "declare these in config/options.py"
    assert {"TTS_MAX_UPLOAD_MB", "TTS_HEADER_TIMEOUT"} <= read  # the scan finds both forms
