"""Models, health and readiness: cheap, never load, never download."""

import logging

import pytest

from tests.support.helpers import error_of


def test_models_list_shows_status_and_reasons(client, no_network):
    response = client.get("/api/tts/models/")
    assert response.status_code == 200
    models = {model["id"]: model for model in response.json()}
    assert {"F5-TTS", "E2-TTS", "tiny-f5", "tiny-e2"} <= set(models)
    f5 = models["F5-TTS"]
    assert (f5["architecture"], f5["sample_rate"], f5["status"]) == ("DiT", 24000, "unavailable")
    assert "TTS_F5_CKPT" in f5["reason"]
    assert f5["source"].startswith("hf://SWivid/F5-TTS/")
    tiny = models["tiny-f5"]
    assert tiny["status"] == "available" and tiny["reason"] is None and tiny["is_default"]
    assert "noise" in tiny["description"]
    assert models["tiny-e2"]["architecture"] == "UNetT"
    assert {model["precision"] for model in models.values()} == {"float32"}  # the tests' setting
    from tts.work.runtime import get_engine

    assert get_engine().loaded_models() == []  # listing loaded nothing


def test_model_detail_and_loaded_status(client):
    from tts.work.runtime import get_engine

    get_engine().load_model("tiny-e2")
    body = client.get("/api/tts/models/tiny-e2/").json()
    assert (body["id"], body["status"]) == ("tiny-e2", "loaded")


def test_unknown_model_detail_is_404(client):
    response = client.get("/api/tts/models/nope/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "model_not_found"


def test_source_never_shows_credentials():
    from tts.work.status import public_source

    assert public_source("https://user:token@host.example/m.pt?sig=abc") == (
        "https://host.example/m.pt")
    assert public_source("hf://SWivid/F5-TTS/x.safetensors") == "hf://SWivid/F5-TTS/x.safetensors"


def test_health_is_cheap_and_complete(client):
    response = client.get("/api/tts/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["device"] == "cpu"
    assert body["execution_mode"] == "inline" and body["loaded_models"] == []
    assert body["queue_depth"] == 0 and body["uptime_seconds"] >= 0
    assert body["version"] and body["f5_tts_version"] == "1.1.22"
    assert body["asr"] == {"model": None, "loaded": False}
    compute = body["compute"]
    assert (compute["device"], compute["precision"]) == ("cpu", "float32")
    assert compute["precision_reason"] == "TTS_PRECISION"
    assert compute["threads"]["intra_op"] >= 1 and compute["threads"]["usable_cpus"] >= 1


def test_health_says_what_auto_precision_found(client, settings, caplog):
    """On this machine's CPU: bfloat16 where /proc/cpuinfo lists native bfloat16, else
    float32; health, the model list and the start-up log line all say the same."""
    from tests.support.helpers import reset_engine
    from tts.engine.precision import CPU_BF16_FLAGS, cpu_feature
    from tts.work.preload import preload

    settings.TTS_PRECISION = "auto"
    settings.TTS_PRELOAD = []
    reset_engine()
    compute = client.get("/api/tts/health/").json()["compute"]
    flag = cpu_feature(CPU_BF16_FLAGS)
    assert compute["precision"] == ("bfloat16" if flag else "float32")
    assert compute["precision_reason"] == (f"auto: the CPU has {flag}" if flag else
                                           "auto: the CPU has no native bfloat16 "
                                           "(amx_bf16 or avx512_bf16)")
    assert compute["compile"] == "auto" and compute["compile_models"] == {}
    model = client.get("/api/tts/models/tiny-f5/").json()
    assert model["precision"] == compute["precision"]
    with caplog.at_level(logging.INFO, logger="tts.work.preload"):
        preload()
    assert any(r.getMessage().startswith("models run on cpu") and
               f" in {compute['precision']}, " in r.getMessage() for r in caplog.records)
    # Health says, for each loaded model, whether auto compiled it and why (a tiny model: no).
    from tts.work.runtime import get_engine

    get_engine().load_model("tiny-f5")
    report = client.get("/api/tts/health/").json()["compute"]["compile_models"]["tiny-f5"]
    assert report["compiled"] is False and "small model" in report["reason"]


def test_readiness_follows_the_default_model(client):
    response = client.get("/api/tts/health/ready/")
    assert response.status_code == 503
    assert response["Retry-After"]
    error = error_of(response)
    assert error["code"] == "not_ready" and "tiny-f5" in error["detail"]
    from tts.work.runtime import get_engine

    get_engine().load_model("tiny-f5")
    response = client.get("/api/tts/health/ready/")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "default_model": "tiny-f5"}


def test_readiness_says_why_when_default_weights_are_missing(client, settings, no_network):
    settings.TTS_DEFAULT_MODEL = "F5-TTS"
    from tests.support.helpers import reset_engine

    reset_engine()
    response = client.get("/api/tts/health/ready/")
    assert response.status_code == 503
    assert "TTS_F5_CKPT" in error_of(response)["detail"]


def test_preload_loads_configured_models(settings):
    settings.TTS_PRELOAD = ["tiny-e2", "F5-TTS"]  # the second fails: logged, not fatal
    from tests.support.helpers import reset_engine
    from tts.work.preload import preload
    from tts.work.runtime import get_engine

    reset_engine()
    preload()
    assert get_engine().loaded_models() == ["tiny-e2"]


def test_preload_retries_until_the_weights_arrive(client, settings, tiny_dir, tmp_path):
    """Readiness recovers by itself when the default model's weights appear after start."""
    import json
    import shutil

    from tests.support.helpers import reset_engine
    from tts.engine.tiny import TINY_DIT
    from tts.work.preload import start_preload

    checkpoint = tmp_path / "late.safetensors"
    settings.TTS_CUSTOM_CKPT = str(checkpoint)
    settings.TTS_CUSTOM_VOCAB = str(tiny_dir / "vocab.txt")
    settings.TTS_CUSTOM_CONFIG = json.dumps(TINY_DIT)
    settings.TTS_DEFAULT_MODEL = "Custom"
    settings.TTS_PRELOAD = ["Custom"]
    reset_engine()
    thread = start_preload(retry_seconds=0.05)
    assert client.get("/api/tts/health/ready/").status_code == 503
    shutil.copy(tiny_dir / "tiny_dit.safetensors", checkpoint)
    thread.join(60)
    assert not thread.is_alive()
    assert client.get("/api/tts/health/ready/").status_code == 200


@pytest.mark.parametrize("path", ["/nothing-here/", "/api/tts/nothing/"])
def test_unknown_urls_get_the_error_shape(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_wrong_method(client):
    response = client.get("/api/tts/generate/")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_broken_model_configuration_makes_health_503_and_check_fail(client, settings, tmp_path):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    from tests.support.helpers import reset_engine

    broken = tmp_path / "models.toml"
    broken.write_text('[[models]]\nid = "x"\narchitecture = "RNN"\ncheckpoint = "m.pt"\n')
    settings.TTS_MODELS_FILE = str(broken)
    reset_engine()
    for path in ("/api/tts/health/", "/api/tts/health/ready/", "/api/tts/models/"):
        response = client.get(path)
        assert response.status_code == 503, path
        error = error_of(response)
        assert error["code"] == "configuration_error"
        assert "unknown architecture" in error["detail"]
    with pytest.raises(SystemCheckError, match="tts.E001"):
        call_command("check")


@pytest.mark.parametrize("entry", [
    'id = "x"\ncheckpoint = "hf://owner/repo"',      # no file in the hub URI
    'id = 5\ncheckpoint = "m.pt"',                    # not a string
    'name = "no id"\ncheckpoint = "m.pt"',
    'id = "x"\ncheckpoint = "m.pt"\nconfig = "dim 64"',  # not a table
])
def test_malformed_models_file_entries_fail_the_check(settings, tmp_path, entry):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    path = tmp_path / "models.toml"
    path.write_text(f"[[models]]\n{entry}\n")
    settings.TTS_MODELS_FILE = str(path)
    with pytest.raises(SystemCheckError, match="tts.E001"):
        call_command("check")


def test_unknown_default_model_fails_the_system_check(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.TTS_DEFAULT_MODEL = "nope"
    with pytest.raises(SystemCheckError, match="tts.E002"):
        call_command("check")
