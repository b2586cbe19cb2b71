"""Device choice, precision and the torch build report. The GPU rules are checked by feeding
the machine facts a GPU box would have; the real facts of this machine are checked too."""

import importlib.util
from pathlib import Path

import pytest
import torch

from tts.engine import devices
from tts.engine.devices import DeviceFacts, GpuInfo, plan_device

H100 = GpuInfo(index=0, name="NVIDIA H100 80GB HBM3", memory_total_mb=81_559, capability=(9, 0))
GTX1080 = GpuInfo(index=0, name="NVIDIA GeForce GTX 1080", memory_total_mb=8_192,
                  capability=(6, 1))
#: PyPI's default build on a machine whose driver is too old for CUDA 13 (what the issue saw).
CUDA13_OLD_DRIVER = DeviceFacts(
    torch_version="2.13.0+cu130", cuda="13.0", driver="535.104.05", driver_cuda="12.2",
    cuda_problem="The NVIDIA driver on your system is too old (found version 12020).")
CUDA13_NO_DRIVER = DeviceFacts(torch_version="2.13.0+cu130", cuda="13.0",
                               cuda_problem="Found no NVIDIA driver on your system.")
CUDA13_ONE_GPU = DeviceFacts(torch_version="2.13.0+cu130", cuda="13.0", gpus=(H100,))
CPU_BUILD = DeviceFacts(torch_version="2.13.0+cpu", cuda=None)


def test_the_real_facts_of_this_machine():
    facts = devices.collect_facts()
    assert facts.torch_version == torch.__version__
    assert facts.cuda == torch.version.cuda
    assert facts.gpu_usable == torch.cuda.is_available()
    assert len(facts.gpus) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    plan = plan_device("auto", facts)
    assert plan.device == ("cuda" if facts.gpu_usable else "mps" if facts.mps else "cpu")
    assert devices.resolve_device("auto") == plan.device
    info = devices.device_info("cpu", facts)
    assert info["name"] and info["memory_total_mb"] > 0 and info["precision"] == "float32"
    used, peak = devices.memory_usage("cpu")
    assert 0 < used <= peak


def test_cuda_build_without_usable_gpu_falls_back_loudly_and_says_what_to_do():
    plan = plan_device("auto", CUDA13_OLD_DRIVER)
    assert plan.device == "cpu" and plan.error is None
    (warning,) = plan.warnings
    assert "CUDA 13.0" in warning and "no GPU is usable" in warning
    assert "too old" in warning and "535.104.05" in warning  # torch's and the driver's words
    assert "TORCH_VARIANT=cu126" in warning  # the build that fits a CUDA 12.x driver
    assert "TTS_DEVICE=cpu" in warning  # or confirm the CPU


def test_cuda_build_without_a_driver_says_to_install_one():
    (warning,) = plan_device("auto", CUDA13_NO_DRIVER).warnings
    assert "Found no NVIDIA driver" in warning and "nvidia-smi" in warning


def test_a_driver_too_old_for_every_build_says_to_update_it():
    facts = DeviceFacts(torch_version="2.13.0+cu126", cuda="12.6", driver="470.82",
                        driver_cuda="11.4")
    error = plan_device("cuda", facts).error
    assert "update it to the 525 series" in error and "TORCH_VARIANT=cpu" in error


@pytest.mark.parametrize("requested", ["cuda", "cuda:0"])
def test_explicit_cuda_without_usable_gpu_is_an_error_not_a_fallback(requested):
    plan = plan_device(requested, CUDA13_OLD_DRIVER)
    assert plan.device is None
    assert f"TTS_DEVICE={requested}" in plan.error and "TORCH_VARIANT=cu126" in plan.error
    plan = plan_device(requested, CPU_BUILD)
    assert plan.device is None and "CPU-only build" in plan.error


def test_explicit_cpu_on_a_cuda_build_is_a_choice_not_a_warning():
    assert plan_device("cpu", CUDA13_OLD_DRIVER) == devices.DevicePlan("cpu", "cpu")
    assert plan_device("auto", CPU_BUILD).warnings == ()


def test_gpu_machine_plans():
    assert plan_device("auto", CUDA13_ONE_GPU).device == "cuda"
    assert plan_device("CUDA:0", CUDA13_ONE_GPU).device == "cuda:0"
    error = plan_device("cuda:1", CUDA13_ONE_GPU).error
    assert "only 1 GPU" in error and "CUDA_VISIBLE_DEVICES" in error
    assert "not one of" in plan_device("gpu", CUDA13_ONE_GPU).error
    assert plan_device("mps", CUDA13_ONE_GPU).device is None


def test_precision_follows_upstream_rule():
    assert devices.choose_precision("cuda", H100) == "float16"
    assert devices.choose_precision("cuda:0", GTX1080) == "float32"  # compute capability 6.1
    zluda = GpuInfo(0, "AMD Radeon RX 7900 XTX [ZLUDA]", 24_576, (8, 8))
    assert devices.choose_precision("cuda", zluda) == "float32"
    assert devices.choose_precision("cpu", None) == "float32"
    assert devices.model_precision("cuda:0", CUDA13_ONE_GPU) == "float16"
    info = devices.device_info("cuda", CUDA13_ONE_GPU)
    assert (info["name"], info["memory_total_mb"], info["compute_capability"],
            info["precision"]) == ("NVIDIA H100 80GB HBM3", 81_559, "9.0", "float16")


def test_reported_precision_is_what_the_loader_actually_uses(tiny_engine):
    """The precision function agrees with upstream's loader on this machine's device."""
    tiny_engine.load_model("tiny-f5")
    footprint = tiny_engine.model_footprint("tiny-f5")
    assert footprint.precision == devices.model_precision(footprint.device)
    assert footprint.device == tiny_engine.device and footprint.weights_mb > 0
    model = tiny_engine.pool.loaded_backend("tiny-f5")._model  # upstream's CFM itself
    assert devices.model_dtype(footprint.device) == next(model.parameters()).dtype


def test_summary_line_names_device_build_and_precision():
    line = devices.summary(plan_device("auto", CUDA13_ONE_GPU), CUDA13_ONE_GPU)
    assert "cuda (NVIDIA H100 80GB HBM3, 80 GiB) in float16" in line
    assert "torch 2.13.0+cu130 (CUDA 13.0)" in line


# --- torch and torchaudio move together ---------------------------------------------------------
@pytest.mark.parametrize(("version", "cuda"), [
    ("2.11.0+cu130", "13.0"), ("2.11.0+cu126", "12.6"), ("2.0.2+cu118", "11.8"),
    ("2.11.0+cpu", None), ("2.11.0", None), (None, None)])
def test_build_cuda_reads_the_local_version_tag(version, cuda):
    assert devices.build_cuda(version) == cuda


@pytest.mark.parametrize(("torch_cuda", "torchaudio", "agree"), [
    ("13.0", "2.11.0+cu130", True),    # PyPI's default pair
    ("12.6", "2.11.0+cu126", True),    # TORCH_VARIANT=cu126
    (None, "2.11.0+cu130", True),      # CPU torch, CUDA torchaudio without its extension
    ("13.0", "2.11.0+cpu", True),      # CPU torchaudio has no CUDA to disagree with
    ("13.2", "2.11.0+cu130", False),   # PyPI's torch 2.15 beside the last torchaudio
    ("12.6", "2.11.0+cu130", False),   # torch from the cu126 index, torchaudio from PyPI
])
def test_pairing_rule(torch_cuda, torchaudio, agree):
    problem = devices.pairing_problem(torch_cuda, torchaudio)
    assert (problem is None) == agree
    if not agree:
        assert "refuse to import" in problem and "TORCH_VARIANT" in problem


def test_installed_torch_and_torchaudio_builds_agree():
    """The guard for the pins in pyproject.toml and scripts/install.sh: bumping torch alone to
    a build for another CUDA version fails here on any machine, CPU-only CI included, instead
    of at import on every GPU install.

    "Agree" means what torchaudio itself enforces: when both builds use CUDA, the same CUDA
    major.minor. Here torch is the local CPU wheel (no CUDA) and torchaudio PyPI's cu130
    build; that pair is only usable because scripts/install.sh removes torchaudio's compiled
    extension, so that is asserted too.
    """
    torch_build = devices.installed_build("torch")
    audio_build = devices.installed_build("torchaudio")
    assert torch_build == torch.__version__
    assert audio_build and "+" in audio_build, "torchaudio's build tag must be readable"
    assert devices.pairing_problem(torch.version.cuda, audio_build) is None
    if torch.version.cuda is None and devices.build_cuda(audio_build):
        package = Path(importlib.util.find_spec("torchaudio").origin).parent
        assert not list((package / "lib").glob("*.so")), (
            "CUDA torchaudio beside CPU torch needs its compiled extension removed "
            "(scripts/install.sh does it)")


#: Kernels of PyTorch's CUDA 13.0 and CUDA 12.6 builds (``torch.cuda.get_arch_list()``).
CU130_ARCHS = ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120")
CU126_ARCHS = ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")


def test_a_gpu_the_build_has_no_kernels_for_is_not_used_silently():
    pascal_on_cu130 = DeviceFacts(torch_version="2.13.0+cu130", cuda="13.0", gpus=(GTX1080,),
                                  arch_list=CU130_ARCHS)
    plan = plan_device("auto", pascal_on_cu130)
    assert plan.device == "cpu"
    (warning,) = plan.warnings
    assert "GTX 1080" in warning and "6.1" in warning and "TORCH_VARIANT=cu126" in warning
    assert "TORCH_VARIANT=cu126" in plan_device("cuda", pascal_on_cu130).error
    blackwell = GpuInfo(0, "NVIDIA GeForce RTX 5090", 32_607, (12, 0))
    on_cu126 = DeviceFacts(torch_version="2.13.0+cu126", cuda="12.6", gpus=(blackwell,),
                           arch_list=CU126_ARCHS)
    assert "TORCH_VARIANT=cu130" in plan_device("cuda:0", on_cu126).error
    ampere = GpuInfo(0, "NVIDIA A10G", 22_731, (8, 6))  # runs sm_80 code
    for archs in (CU130_ARCHS, CU126_ARCHS):
        facts = DeviceFacts(torch_version="2.13.0", cuda="13.0", gpus=(ampere,), arch_list=archs)
        assert plan_device("auto", facts) == devices.DevicePlan("auto", "cuda")
    ptx_only = DeviceFacts(torch_version="x", cuda="13.0", gpus=(ampere,),
                           arch_list=("compute_80",))
    assert plan_device("cuda", ptx_only).device == "cuda"
