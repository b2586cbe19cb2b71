"""The persisted compile cache and TTS_COMPILE=auto: the cache key changes when what the
compiled code depends on changes (and only then); a stale or corrupt cache is rebuilt with a
warning, never a crash; ``auto`` decides as docs/configuration.md says, on CPUs with and
without the relevant flags (read through tts.engine.precision.cpu_flags, overridden here).
A real compile through the cache (filled, damaged, rebuilt) is in test_compile.py, which
compiles anyway."""

import json
import logging

import pytest
import torch

from tests.support.helpers import tiny_config
from tts.engine import precision as precision_module
from tts.engine.compile_cache import COLD, STALE, WARM, CompileCache, cache_key
from tts.engine.compiler import REAL_SIZE_PARAMETERS, plan_compile
from tts.engine.config import EngineConfig
from tts.engine.engine import TTSEngine
from tts.engine.registry import upstream_arch

ZEN4 = frozenset({"fpu", "sse2", "avx2", "avx512f", "avx512_bf16", "avx512_vnni", "hypervisor"})
OLD_XEON = frozenset({"fpu", "sse2", "avx2", "avx512f", "hypervisor"})
ARCH, CONFIG = upstream_arch("F5TTS_v1_Base")


def key(**changes):
    values = {"architecture": ARCH, "config": CONFIG, "precision": "bfloat16", "device": "cpu",
              "flags": ZEN4, "torch_version": "2.13.0+cpu"}
    values.update(changes)
    return cache_key(**values)


@pytest.fixture
def flags(monkeypatch):
    """Make this machine's CPU flags whatever a test says (the one function that reads them)."""
    def set_flags(value: frozenset[str]) -> None:
        monkeypatch.setattr(precision_module, "cpu_flags", lambda: value)
    return set_flags


# --- the key ----------------------------------------------------------------------------------
@pytest.mark.parametrize("change", [
    {"torch_version": "2.14.0+cpu"},
    {"architecture": "UNetT", "config": upstream_arch("E2TTS_Base")[1]},
    {"config": {**CONFIG, "depth": 12}},
    {"precision": "float32"},
    {"device": "cuda:0"},
    {"flags": OLD_XEON},
    {"flags": ZEN4 | {"amx_bf16", "amx_tile"}},
])
def test_the_key_changes_with_what_the_compiled_code_depends_on(change):
    assert key(**change).digest != key().digest
    assert key(**change).folder_name != key().folder_name


def test_the_key_ignores_what_the_compiled_code_does_not_depend_on():
    assert key(flags=ZEN4 | {"hypervisor", "constant_tsc", "rdrand"}).digest == key().digest
    assert key(config=dict(reversed(list(CONFIG.items())))).digest == key().digest
    # CPU flags decide CPU code only.
    assert key(device="cuda:0", flags=OLD_XEON).digest == key(device="cuda:0").digest


def test_the_key_reads_this_cpus_flags_through_one_function(flags):
    flags(ZEN4)
    with_bf16 = cache_key(architecture=ARCH, config=CONFIG, precision="bfloat16", device="cpu")
    flags(OLD_XEON)
    without = cache_key(architecture=ARCH, config=CONFIG, precision="bfloat16", device="cpu")
    assert "avx512_bf16" in with_bf16.cpu_flags and "avx512_bf16" not in without.cpu_flags
    assert with_bf16.digest != without.digest
    assert with_bf16.torch_version == torch.__version__


# --- states: cold, warm, stale ------------------------------------------------------------------
def fake_compile(cache: CompileCache, k) -> None:
    with cache.active(k) as folder:
        (folder / "fxgraph").mkdir(parents=True, exist_ok=True)
        (folder / "fxgraph" / "entry").write_bytes(b"compiled graph")
        (folder / "kernel.so").write_bytes(b"\x7fELF kernel")
        (folder / "locks").mkdir(exist_ok=True)
        (folder / "locks" / "x.lock").write_text("")
    cache.seal(k, seconds=1.0)


def test_cold_then_warm_once_sealed(tmp_path):
    cache, k = CompileCache(tmp_path), key()
    assert cache.state(k)[0] == COLD
    fake_compile(cache, k)
    state, why = cache.state(k)
    assert state == WARM, why
    manifest = json.loads((cache.folder(k) / "manifest.json").read_text())
    assert set(manifest["files"]) == {"fxgraph/entry", "kernel.so"}  # not the lock files
    assert manifest["key"]["torch"] == "2.13.0+cpu"
    assert cache.state(key(precision="float32"))[0] == COLD  # another folder
    assert cache.state(key(config={**CONFIG, "depth": 12}))[0] == COLD  # another model


@pytest.mark.parametrize(("change", "named"), [({"torch_version": "2.14.0+cpu"}, "torch"),
                                               ({"flags": OLD_XEON}, "the CPU's flags")])
def test_a_cache_of_another_torch_or_cpu_is_stale_and_replaced(tmp_path, caplog, change,
                                                                named):
    cache, old, new = CompileCache(tmp_path), key(), key(**change)
    fake_compile(cache, old)
    state, why = cache.state(new)
    assert state == STALE and named in why
    with caplog.at_level(logging.WARNING, logger="tts.engine.compile_cache"):
        cache.prepare(new, model_id="F5-TTS")
    assert "stale" in caplog.text
    assert not cache.folder(old).exists()  # the old configuration's files are gone
    assert cache.state(new)[0] == COLD and cache.state(old)[0] == COLD


@pytest.mark.parametrize("damage", ["changed file", "missing file", "garbage manifest",
                                    "no manifest"])
def test_a_corrupt_cache_is_found_stale_and_deleted_with_a_warning(tmp_path, caplog, damage):
    cache, k = CompileCache(tmp_path), key()
    fake_compile(cache, k)
    folder = cache.folder(k)
    if damage == "changed file":
        (folder / "kernel.so").write_bytes(b"\x7fELF truncat")
    elif damage == "missing file":
        (folder / "fxgraph" / "entry").unlink()
    elif damage == "garbage manifest":
        (folder / "manifest.json").write_bytes(b"\x00{not json")
    else:
        (folder / "manifest.json").unlink()  # a compile killed before it finished
    assert cache.state(k)[0] == STALE
    with caplog.at_level(logging.WARNING, logger="tts.engine.compile_cache"):
        assert cache.prepare(k, model_id="F5-TTS") == STALE
    assert "stale or corrupt" in caplog.text and "F5-TTS" in caplog.text
    assert not folder.exists()
    assert cache.state(k)[0] == COLD


def test_active_points_torch_at_the_folder_and_restores_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/somewhere/else")
    cache, k = CompileCache(tmp_path), key()
    with cache.active(k) as folder:
        from torch._inductor.runtime.cache_dir_utils import cache_dir

        assert cache_dir() == str(folder)
    assert cache_dir() == "/somewhere/else"


# --- what auto decides -----------------------------------------------------------------------
REAL = 337_000_000


XEON_AMX = ZEN4 | {"amx_bf16", "amx_tile", "amx_int8"}


@pytest.mark.parametrize(("setting", "facts", "compiles", "says"), [
    ("auto", {}, True, "warm"),
    ("auto", {"cache_state": COLD}, False, "manage.py compile_cache"),
    ("auto", {"cache_state": STALE}, True, "rebuilt once"),
    ("auto", {"architecture": "UNetT"}, False, "not measured to gain"),
    ("auto", {"parameters": 200_000}, False, "small model"),
    ("auto", {"device": "cuda:0"}, False, "CPUs only"),
    ("auto", {"precision": "int8"}, False, "not measured to gain"),
    ("auto", {"precision": "float32"}, False, "not measured to gain"),
    # The same model on CPUs without AMX (an EPYC with avx512_bf16: measured slower compiled).
    ("auto", {"flags": ZEN4}, False, "not measured to gain on this CPU"),
    ("auto", {"flags": OLD_XEON}, False, "not measured to gain on this CPU"),
    ("1", {"cache_state": COLD, "flags": ZEN4}, True, "TTS_COMPILE=1"),
    ("1", {"architecture": "UNetT", "parameters": 1000}, True, "TTS_COMPILE=1"),
    ("1", {"precision": "int8"}, False, "not compiled"),
    ("0", {}, False, "TTS_COMPILE=0"),
    (True, {}, True, "TTS_COMPILE=1"),
    ("off", {}, False, "TTS_COMPILE=0"),
])
def test_auto_compiles_where_it_was_measured_to_gain_and_the_cache_is_warm(setting, facts,
                                                                           compiles, says):
    values = {"device": "cpu", "architecture": "DiT", "parameters": REAL,
              "precision": "bfloat16", "cache_state": WARM, "flags": XEON_AMX}
    values.update(facts)
    plan = plan_compile(setting, **values)
    assert plan.compile is compiles
    assert says in plan.reason
    assert plan.required is (compiles and str(setting) in ("1", "True"))


def test_auto_reads_this_cpus_flags_through_the_one_function(flags):
    values = {"device": "cpu", "architecture": "DiT", "parameters": REAL,
              "precision": "bfloat16", "cache_state": WARM}
    flags(XEON_AMX)
    assert plan_compile("auto", **values).compile is True
    flags(ZEN4)
    assert plan_compile("auto", **values).compile is False


def test_auto_is_the_default_and_booleans_still_mean_on_and_off():
    assert EngineConfig().compile == "auto"
    assert EngineConfig(compile=True).compile == "1"
    assert EngineConfig(compile="false").compile == "0"
    with pytest.raises(ValueError, match="auto, 1, 0"):
        EngineConfig(compile="sometimes")
    assert REAL_SIZE_PARAMETERS < 337_000_000


@pytest.mark.parametrize(("cpu", "precision"), [(ZEN4, "bfloat16"), (OLD_XEON, "float32")])
def test_auto_on_cpus_with_and_without_bfloat16(flags, tiny_dir, tmp_path, cpu, precision):
    """The tiny models under the defaults (precision and compile auto): the precision follows
    the flags, nothing is compiled (a small model), and health says why."""
    flags(cpu)
    engine = TTSEngine(tiny_config(tiny_dir, precision="auto", compile="auto",
                                   compile_cache_dir=str(tmp_path)))
    engine.load_model("tiny-f5")
    info = engine.compute_info()
    assert info["precision"] == precision and info["compile"] == "auto"
    report = info["compile_models"]["tiny-f5"]
    assert report["compiled"] is False and "small model" in report["reason"]
    assert report["cache"] == COLD
    assert not any(tmp_path.iterdir())  # nothing compiled, nothing written
