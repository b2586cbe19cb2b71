"""Health, the model list, the start-up log and the system checks say what the models run on,
and nothing about the device is silent."""

import logging

import pytest
import torch
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tests.engine.test_devices import CUDA13_OLD_DRIVER
from tests.support.helpers import error_of
from tts.engine import devices


@pytest.fixture
def cuda_build_without_gpu(monkeypatch):
    """The machine facts of PyPI's CUDA 13 build on a box whose driver is too old."""
    monkeypatch.setattr(devices, "collect_facts", lambda: CUDA13_OLD_DRIVER)
    return CUDA13_OLD_DRIVER


def test_health_reports_device_build_and_precision(client):
    body = client.get("/api/tts/health/").json()
    facts = devices.collect_facts()
    expected = "cuda" if facts.gpu_usable else "cpu"
    assert body["device"] == expected
    info = body["device_info"]
    assert info["requested"] == "auto" and info["device"] == expected
    assert info["name"] and info["memory_total_mb"] > 0 and info["memory_peak_mb"] > 0
    assert info["precision"] == devices.model_precision(expected)
    build = body["torch"]
    assert build["torch"] == torch.__version__ and build["cuda"] == torch.version.cuda
    assert build["gpu_usable"] == torch.cuda.is_available()
    assert build["torchaudio"] == devices.installed_build("torchaudio")
    assert body["warnings"] == []  # CPU build, or a usable GPU: nothing to act on


def test_cuda_build_without_gpu_is_a_health_warning(client, cuda_build_without_gpu):
    response = client.get("/api/tts/health/")
    assert response.status_code == 200  # it can still take work, on the CPU
    body = response.json()
    assert body["device"] == "cpu"
    assert (body["torch"]["cuda"], body["torch"]["gpu_usable"]) == ("13.0", False)
    assert body["torch"]["driver_cuda"] == "12.2"
    (warning,) = body["warnings"]
    assert "no GPU is usable" in warning and "TORCH_VARIANT=cu126" in warning
    models = client.get("/api/tts/models/").json()
    assert {(m["device"], m["torch_cuda"], m["gpu_usable"]) for m in models} == {
        ("cpu", "13.0", False)}


def test_cuda_build_without_gpu_is_a_start_up_warning_and_a_check_warning(
        settings, caplog, cuda_build_without_gpu):
    from tts.work.preload import preload

    settings.TTS_PRELOAD = []
    with caplog.at_level(logging.INFO, logger="tts.work.preload"):
        preload()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("no GPU is usable" in text and "TTS_DEVICE=cpu" in text for text in warnings)
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any(text.startswith("models run on cpu") and "CUDA 13.0" in text for text in infos)
    found = {message.id for message in checks.run_checks()}
    assert "tts.W001" in found and not any(i.startswith("tts.E") for i in found)


def test_start_up_log_names_the_real_device(settings, caplog):
    from tts.work.preload import preload

    settings.TTS_PRELOAD = []
    with caplog.at_level(logging.INFO, logger="tts.work.preload"):
        preload()
    assert any(r.getMessage().startswith("models run on ") and "torch " in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize("requested", ["cuda", "cuda:3"])
def test_explicit_cuda_without_gpu_fails_the_check_and_health(client, settings, requested,
                                                              cuda_build_without_gpu):
    from tests.support.helpers import reset_engine

    settings.TTS_DEVICE = requested
    reset_engine()
    with pytest.raises(SystemCheckError, match="tts.E003"):
        call_command("check")
    for path in ("/api/tts/health/", "/api/tts/health/ready/", "/api/tts/models/"):
        response = client.get(path)
        assert response.status_code == 503, path
        error = error_of(response)
        assert error["code"] == "configuration_error"
        assert f"TTS_DEVICE={requested}" in error["detail"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_explicit_cuda_on_this_machine_fails_the_check(settings):
    """No fact faked: this machine's own torch has no usable GPU."""
    settings.TTS_DEVICE = "cuda"
    with pytest.raises(SystemCheckError, match="tts.E003"):
        call_command("check")


def test_models_show_device_and_precision_actually_used(client):
    from tts.work.runtime import get_engine

    models = {m["id"]: m for m in client.get("/api/tts/models/").json()}
    device = devices.resolve_device("auto")
    tiny = models["tiny-f5"]
    assert (tiny["device"], tiny["weights_mb"]) == (device, None)
    assert tiny["precision"] == devices.model_precision(device)
    assert tiny["device_name"] and tiny["device_memory_mb"] > 0
    assert (tiny["torch_cuda"], tiny["gpu_usable"]) == (torch.version.cuda,
                                                        torch.cuda.is_available())
    engine = get_engine()
    engine.load_model("tiny-f5")
    model = engine.pool.loaded_backend("tiny-f5")._model  # upstream's CFM itself
    body = client.get("/api/tts/models/tiny-f5/").json()
    assert body["status"] == "loaded" and body["weights_mb"] > 0
    assert body["precision"] == str(next(model.parameters()).dtype).split(".")[-1]
