"""TTS_COMPILE on the tiny models: the layers compile once, at load; a seed still reproduces;
the samples match the uncompiled model's within the precision's tolerance; and a machine
where torch.compile cannot work makes the model unavailable with the reason."""

import json
import logging

import numpy as np
import pytest
import torch

from tests.engine.test_precision import cpu_runs
from tests.support.audio import REF_TEXT
from tests.support.helpers import tiny_config
from tts.engine import compiler
from tts.engine.compile_cache import WARM, CompileCache, cache_key
from tts.engine.engine import TTSEngine
from tts.engine.errors import ModelLoadError
from tts.engine.synthesis import SynthesisParams

SHORT = "Compiled once."
LONG = "Compiled once, at load: a longer text must not compile the layers again."
#: Relative error allowed between compiled and eager samples: compiled kernels sum in another
#: order (float32), or keep intermediates in float32 where eager rounds them (bfloat16).
TOLERANCE = {"float32": 1e-3, "bfloat16": 0.15}


def precisions():
    return ["float32", pytest.param("bfloat16", marks=pytest.mark.skipif(
        cpu_runs(torch.bfloat16) is not None, reason=str(cpu_runs(torch.bfloat16))))]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("compile-cache")


@pytest.fixture(scope="module", params=precisions())
def engines(request, tiny_dir, cache_dir):
    name = request.param
    return name, (TTSEngine(tiny_config(tiny_dir, precision=name, compile=True,
                                        compile_cache_dir=str(cache_dir))),
                  TTSEngine(tiny_config(tiny_dir, precision=name)))


def generate(engine, ref_bytes, model, text=SHORT, seed=7):
    ref, _ = engine.prepare_reference(ref_bytes, REF_TEXT)
    return engine.generate(model, ref, text, SynthesisParams(nfe_step=6, seed=seed))


def graphs_compiled() -> int:
    return torch._dynamo.utils.counters["stats"]["unique_graphs"]


@pytest.mark.parametrize("model", ["tiny-f5", "tiny-e2"])
def test_compiled_at_load_and_never_again(engines, ref_bytes, model):
    _, (compiled, _) = engines
    compiled.load_model(model)
    backend = compiled.pool.loaded_backend(model)
    assert backend.compile_seconds is not None and backend.compile_seconds > 0
    units = compiler.compile_units(backend._model.transformer)
    assert units and {type(u).__name__ for u in units} <= {"DiTBlock", "Attention",
                                                           "FeedForward"}
    before = graphs_compiled()
    with torch._dynamo.config.patch(error_on_recompile=True):
        short = generate(compiled, ref_bytes, model)
        long = generate(compiled, ref_bytes, model, LONG)  # other lengths, same graphs
    assert graphs_compiled() == before
    assert long.samples.size > short.samples.size
    info = compiled.compute_info()
    assert info["compile"] == "1" and info["compile_models"][model]["compiled"] is True


@pytest.mark.parametrize("model", ["tiny-f5", "tiny-e2"])
def test_same_seed_same_samples_and_close_to_uncompiled(engines, ref_bytes, model):
    name, (compiled, eager) = engines
    first = generate(compiled, ref_bytes, model)
    again = generate(compiled, ref_bytes, model)
    np.testing.assert_array_equal(first.samples, again.samples)
    assert not np.allclose(first.samples, generate(compiled, ref_bytes, model, seed=8).samples)
    reference = generate(eager, ref_bytes, model)
    assert first.samples.shape == reference.samples.shape
    error = np.linalg.norm(first.samples - reference.samples) / np.linalg.norm(reference.samples)
    assert error < TOLERANCE[name]
    assert eager.compute_info()["compile"] == "auto"  # the default: tiny models stay eager
    assert eager.compute_info()["compile_models"][model]["compiled"] is False


def test_a_machine_without_a_cpp_compiler_makes_the_model_unavailable(tiny_dir):
    """No fake: inductor itself looks for the compiler and fails (TTS_COMPILE is explicit,
    so the model says why rather than silently running uncompiled)."""
    torch._dynamo.reset()  # forget graphs compiled by earlier tests in this process
    engine = TTSEngine(tiny_config(tiny_dir, compile=True))
    no_compiler = {"cpp.cxx": (None, "/nonexistent/g++"), "fx_graph_cache": False}
    with torch._inductor.config.patch(no_compiler), \
            pytest.raises(ModelLoadError, match="TTS_COMPILE=1 but torch.compile failed"):
        engine.load_model("tiny-f5")
    reason = engine.model_status("tiny-f5").reason
    assert "No working C++ compiler" in reason and "TTS_COMPILE=0" in reason


def test_a_corrupt_compile_cache_is_rebuilt_with_a_warning_and_the_model_serves(
        engines, tiny_dir, cache_dir, ref_bytes, caplog):
    """The compiles above filled and sealed the persisted cache (warm); a start after its
    compiled files were damaged warns, rebuilds it, and serves. One compile (the rest of the
    cache's behaviour is in test_compile_cache.py, without compiling)."""
    name, (compiled, _) = engines
    if name != "float32":
        pytest.skip("one precision is enough")
    compiled.load_model("tiny-f5")
    key = cache_key(architecture="DiT", config=compiled.model_spec("tiny-f5").config,
                    precision="float32", device="cpu")
    cache = CompileCache(cache_dir)
    assert cache.state(key)[0] == WARM
    folder = cache.folder(key)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"], "the compile wrote nothing into the cache folder"
    for file in manifest["files"]:
        # A new file in its place (this process has the old one's kernels mapped: writing
        # into it would crash the process, as it would any server running from it).
        (folder / file).unlink()
        (folder / file).write_bytes(b"garbage")
    torch._dynamo.reset()  # as in a new process: nothing compiled in memory
    again = TTSEngine(tiny_config(tiny_dir, precision="float32", compile=True,
                                  compile_cache_dir=str(cache_dir)))
    with caplog.at_level(logging.WARNING, logger="tts.engine.compile_cache"):
        again.load_model("tiny-f5")
    assert "stale or corrupt" in caplog.text
    report = again.compute_info()["compile_models"]["tiny-f5"]
    assert report["compiled"] is True and report["cache"] == "rebuilt"
    assert generate(again, ref_bytes, "tiny-f5").samples.size > 0
    assert cache.state(key)[0] == WARM
