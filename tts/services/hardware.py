"""What the server runs on: the device plan for TTS_DEVICE, its facts and warnings, for health,
the model list and the start-up log. Never loads a model."""

from __future__ import annotations

import logging
from typing import Any

from tts.engine import devices
from tts.engine.errors import ConfigurationError

from .runtime import get_engine


def _plan() -> tuple[devices.DevicePlan, devices.DeviceFacts]:
    facts = devices.collect_facts()
    return devices.plan_device(get_engine().config.device, facts), facts


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
    pairing = devices.pairing_problem(facts.cuda, facts.torchaudio_version)
    if pairing:
        warnings.append(pairing)
    return warnings


def device_report() -> dict[str, Any]:
    """Health's view: the device, its name, memory and precision, the torch build, warnings."""
    device = serving_device()
    facts = devices.collect_facts()
    return {
        "device": device,
        "device_info": {"requested": get_engine().config.device,
                        **devices.device_info(device, facts),
                        # TTS_PRECISION as resolved for this device (auto: GPU and CPU flags)
                        "precision": get_engine().compute_info()["precision"]},
        "torch": devices.build_info(facts),
        "warnings": device_warnings(),
    }


def model_runtime(model_id: str) -> dict[str, Any]:
    """Where one model runs (or will run) and in which precision: what the loaded model
    actually holds, or what loading it would choose."""
    facts = devices.collect_facts()
    loaded = get_engine().model_footprint(model_id)
    device = loaded.device if loaded is not None else serving_device()
    info = devices.device_info(device, facts)
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
        logger.error("%s", devices.summary(plan, facts))
        return
    compute = get_engine().compute_info()
    logger.info("%s", devices.summary(plan, facts, compute["precision"]))
    for warning in device_warnings():
        logger.warning("%s", warning)
