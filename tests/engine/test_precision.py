"""TTS_PRECISION on the tiny models: what ``auto`` picks, that the transformer really runs in
the chosen precision inside upstream's worker thread, and that a seed still reproduces."""

import copy

import numpy as np
import pytest
import torch

from tests.support.audio import REF_TEXT
from tests.support.helpers import tiny_config
from tts.engine import precision as precision_module
from tts.engine.engine import TTSEngine
from tts.engine.errors import ModelUnavailable
from tts.engine.precision import Precision, resolve_precision
from tts.engine.synthesis import SynthesisParams

TEXT = "Precision should not change what a seed means."


def cpu_runs(dtype: torch.dtype) -> str | None:
    """Why this CPU cannot run autocast in ``dtype``, or None when it can."""
    try:
        with torch.autocast("cpu", dtype=dtype):
            out = torch.nn.Linear(8, 8)(torch.randn(2, 8))
        return None if out.dtype == dtype else f"autocast gave {out.dtype}"
    except RuntimeError as exc:
        return f"this CPU/torch build cannot run {dtype} autocast: {exc}"


@pytest.fixture(scope="module", params=["float32", "bfloat16", "float16"])
def engine_in(request, tiny_dir):
    name = request.param
    reason = None if name == "float32" else cpu_runs(getattr(torch, name))
    if reason:
        pytest.skip(reason)
    return name, TTSEngine(tiny_config(tiny_dir, precision=name))


@pytest.fixture(scope="module")
def float32_engine(tiny_dir):
    return TTSEngine(tiny_config(tiny_dir, precision="float32"))


def generate(engine, ref_bytes, model="tiny-f5", seed=7):
    ref, _ = engine.prepare_reference(ref_bytes, REF_TEXT)
    return engine.generate(model, ref, TEXT, SynthesisParams(nfe_step=6, seed=seed))


@pytest.mark.parametrize("model", ["tiny-f5", "tiny-e2"])
def test_same_seed_same_samples_in_every_precision(engine_in, ref_bytes, model):
    name, engine = engine_in
    first = generate(engine, ref_bytes, model)
    again = generate(engine, ref_bytes, model)
    other = generate(engine, ref_bytes, model, seed=8)
    np.testing.assert_array_equal(first.samples, again.samples)
    assert np.isfinite(first.samples).all() and first.samples.dtype == np.float32
    assert not np.allclose(first.samples, other.samples)
    assert engine.compute_info()["precision"] == name


@pytest.mark.parametrize("model", ["tiny-f5", "tiny-e2"])
def test_lower_precision_really_runs_and_stays_close(engine_in, float32_engine, ref_bytes,
                                                    model):
    """The transformer's matrix products run in the chosen dtype (in upstream's own worker
    thread), so the samples differ from float32's; the maths around them stays float32, so
    they differ a little."""
    name, engine = engine_in
    if name == "float32":
        pytest.skip("the reference itself")
    lease = engine.pool.acquire(model)
    seen: set[torch.dtype] = set()
    try:
        transformer = lease.backend._model.transformer
        linear = next(m for m in transformer.modules() if isinstance(m, torch.nn.Linear))
        handles = [linear.register_forward_hook(lambda m, a, out: seen.add(out.dtype)),
                   transformer.register_forward_hook(lambda m, a, out: seen.add(out.dtype))]
    finally:
        lease.release()
    try:
        low = generate(engine, ref_bytes, model)
    finally:
        for handle in handles:
            handle.remove()
    assert getattr(torch, name) in seen  # the linear layer, under autocast
    assert torch.float32 in seen  # what the transformer hands back to the ODE maths
    high = generate(float32_engine, ref_bytes, model)
    assert low.samples.shape == high.samples.shape
    assert not np.array_equal(low.samples, high.samples)
    assert np.corrcoef(low.samples, high.samples)[0, 1] > 0.5


def test_only_the_linear_layers_hold_lower_precision_weights(engine_in):
    """On a CPU the model stays float32 except the transformer's linear layers, which hold
    the dtype autocast computes them in; the model's first parameter stays float32, because
    upstream's sampler takes the dtype of its noise and time grid from it."""
    name, engine = engine_in
    lease = engine.pool.acquire("tiny-f5")
    try:
        model = lease.backend._model
        first = next(model.parameters())
        linear = {p.dtype for m in model.transformer.modules()
                  if isinstance(m, torch.nn.Linear) and m.weight is not first
                  for p in m.parameters()}
        linear_ids = {id(p) for m in model.transformer.modules()
                      if isinstance(m, torch.nn.Linear) for p in m.parameters()}
        rest = {p.dtype for p in model.parameters() if id(p) not in linear_ids}
    finally:
        lease.release()
    assert linear == {getattr(torch, name)}
    assert rest == {torch.float32} and first.dtype == torch.float32


@pytest.mark.parametrize("name", ["bfloat16", "float16"])
def test_lower_precision_linear_weights_change_no_result(name):
    """Autocast casts float32 weights to its dtype at every call; holding them in that dtype
    gives the same numbers bit for bit (and skips the cast)."""
    dtype = getattr(torch, name)
    if cpu_runs(dtype):
        pytest.skip(cpu_runs(dtype))
    torch.manual_seed(0)
    block = torch.nn.Sequential(torch.nn.LayerNorm(16), torch.nn.Linear(16, 32),
                                torch.nn.GELU(), torch.nn.Linear(32, 8), torch.nn.Linear(8, 8))
    lowered = copy.deepcopy(block)
    assert precision_module.lower_linear_layers(lowered, dtype) == 3
    x = torch.randn(5, 16)
    with torch.autocast("cpu", dtype=dtype):
        torch.testing.assert_close(lowered(x), block(x), rtol=0, atol=0)
    assert lowered[0].weight.dtype == torch.float32  # only linear layers change
    first_linear = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.Linear(16, 16))
    assert precision_module.lower_linear_layers(first_linear, dtype) == 1
    assert first_linear[0].weight.dtype == torch.float32  # holds the first parameter


@pytest.mark.parametrize("model", ["tiny-f5", "tiny-e2"])
def test_lowered_linear_weights_give_the_samples_of_plain_autocast(tiny_dir, ref_bytes, model,
                                                                  monkeypatch):
    """The whole generation, at nfe 16 (EPSS: a time grid that a bfloat16 model would
    collapse): the same samples with linear weights held in bfloat16 as with autocast over
    float32 weights."""
    if cpu_runs(torch.bfloat16):
        pytest.skip(cpu_runs(torch.bfloat16))
    params = SynthesisParams(nfe_step=16, seed=3)
    lowered = TTSEngine(tiny_config(tiny_dir, precision="bfloat16"))
    ref, _ = lowered.prepare_reference(ref_bytes, REF_TEXT)
    first = lowered.generate(model, ref, TEXT, params)
    monkeypatch.setattr(precision_module, "lower_linear_layers", lambda module, dtype: 0)
    plain = TTSEngine(tiny_config(tiny_dir, precision="bfloat16"))
    second = plain.generate(model, ref, TEXT, params)
    np.testing.assert_array_equal(first.samples, second.samples)


def test_auto_on_cpu_follows_the_bf16_flags(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: frozenset({"avx512f",
                                                                          "avx512_bf16"}))
    chosen = resolve_precision("auto", "cpu")
    assert chosen == Precision("bfloat16", "auto: the CPU has avx512_bf16")
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: frozenset({"avx512f", "avx2"}))
    chosen = resolve_precision("auto", "cpu")
    assert chosen.name == "float32" and "no native bfloat16" in chosen.reason


def test_explicit_and_invalid_values():
    assert resolve_precision("BFloat16", "cpu") == Precision("bfloat16", "TTS_PRECISION")
    with pytest.raises(ModelUnavailable, match="auto, float32, bfloat16, float16"):
        resolve_precision("fp8", "cpu")


def test_an_invalid_precision_makes_models_unavailable_with_the_reason(tiny_dir, ref_bytes):
    engine = TTSEngine(tiny_config(tiny_dir, precision="half"))
    assert "TTS_PRECISION='half'" in engine.compute_info()["precision_reason"]
    ref, _ = engine.prepare_reference(ref_bytes, REF_TEXT)
    with pytest.raises(ModelUnavailable, match="TTS_PRECISION"):
        engine.generate("tiny-f5", ref, TEXT, SynthesisParams(nfe_step=4, seed=1))


def test_compute_info_reports_device_precision_and_threads(float32_engine):
    info = float32_engine.compute_info()
    assert info["device"] == "cpu" and info["precision"] == "float32"
    assert info["threads"]["intra_op"] == torch.get_num_threads()
    assert info["threads"]["usable_cpus"] >= 1
