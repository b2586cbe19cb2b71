"""What the server runs on: the device plan for TTS_DEVICE, its facts and warnings, for health,
the model list and the start-up log. Never loads a model."""

from __future__ import annotations

import logging
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tts.engine.errors import ConfigurationError

from .runtime import get_engine

if TYPE_CHECKING:
    from tts.engine.devices import DeviceFacts, DevicePlan


def _devices() -> ModuleType:
    from tts.engine import devices  # deferred: imports torch, loaded only where models run

    return devices


def _plan() -> tuple[DevicePlan, DeviceFacts]:
    facts = _devices().collect_facts()
    return _devices().plan_device(get_engine().config.device, facts), facts


def serving_device() -> str:
    """The device the models run on; ConfigurationError (503, tts.E003 at check) when
    TTS_DEVICE names one that is not usable."""
    plan, _ = _plan()
    if plan.device is None:
        raise ConfigurationError(plan.error or "TTS_DEVICE is not usable.")
    return plan.device


def device_warnings() -> list[str]:
    """What an operator must fix or confirm: a CUDA build without a usable GPU, a torch and
    torchaudio built for different CUDA versions."""
    plan, facts = _plan()
    warnings = list(plan.warnings)
    pairing = _devices().pairing_problem(facts.cuda, facts.torchaudio_version)
    if pairing:
        warnings.append(pairing)
    return warnings


def device_report() -> dict[str, Any]:
    """Health's view: the device, its name, memory and precision, the torch build, warnings."""
    device = serving_device()
    facts = _devices().collect_facts()
    return {
        "device": device,
        "device_info": {"requested": get_engine().config.device,
                        **_devices().device_info(device, facts),
                        # TTS_PRECISION as resolved for this device (auto: GPU and CPU flags)
                        "precision": get_engine().compute_info()["precision"]},
        "torch": _devices().build_info(facts),
        "warnings": device_warnings(),
    }


def model_runtime(model_id: str) -> dict[str, Any]:
    """Where one model runs (or will run) and in which precision: what the loaded model
    actually holds, or what loading it would choose."""
    facts = _devices().collect_facts()
    loaded = get_engine().model_footprint(model_id)
    device = loaded.device if loaded is not None else serving_device()
    info = _devices().device_info(device, facts)
    precision = get_engine().compute_info()["precision"]
    weights_mb = None
    if loaded is not None:
        precision = loaded.precision or precision
        weights_mb = loaded.weights_mb
    return {"device": device, "device_name": info["name"],
            "device_memory_mb": info["memory_total_mb"], "precision": precision,
            "weights_mb": weights_mb, "torch_cuda": facts.cuda, "gpu_usable": facts.gpu_usable}


def log_device_report(logger: logging.Logger) -> None:
    """At start: one line saying where the models run, and every warning loudly."""
    plan, facts = _plan()
    if plan.device is None:
        logger.error("%s", _devices().summary(plan, facts))
        return
    compute = get_engine().compute_info()
    logger.info("%s", _devices().summary(plan, facts, compute["precision"]))
    for warning in device_warnings():
        logger.warning("%s", warning)
