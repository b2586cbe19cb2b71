"""Server overhead: the same generation done (a) directly with the f5-tts library, as
upstream's ``F5TTS.infer`` does it, and (b) through the running server over HTTP.

Same model weights, reference clip, text, seed and nfe on both sides. Rounds are interleaved
(a/b, then b/a) after warm-up so that noise from other work on the machine hits both sides;
the medians and their ratio b/a are printed per model, then a breakdown of where the
difference goes (server timing fields, plus micro-measurements of encoding, base64 and JSON).

    .venv/bin/python -m bench.overhead                 # tiny and mid-size models
    .venv/bin/python -m bench.overhead --models mid --rounds 9
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import common

TARGET = 1.05


def _time(fn: Callable[[], Any], repeat: int = 50) -> float:
    """Median seconds of ``fn()`` over ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return common.median(samples)


def micro_profile(samples: Any, body: dict[str, Any]) -> dict[str, float]:
    """In-process cost of the steps the server adds around inference, on this output."""
    from tts.engine import audio

    wav = audio.encode(samples, common.SAMPLE_RATE, "wav")
    b64 = base64.b64encode(wav).decode("ascii")
    text = json.dumps(body)
    return {
        "wav encode (server)": _time(lambda: audio.encode(samples, common.SAMPLE_RATE, "wav")),
        "base64 encode (server)": _time(lambda: base64.b64encode(wav)),
        "JSON render (server)": _time(lambda: json.dumps(body).encode("utf-8")),
        "JSON parse (client)": _time(lambda: json.loads(text)),
        "base64 decode (client)": _time(lambda: base64.b64decode(b64)),
        "wav decode (client)": _time(lambda: common.decode_wav(wav)),
    }


def run_model(model_key: str, *, folder: Path, server: common.Server, ref: Path, rounds: int,
              warmup: int, nfe: int, seed: int, timeout: float) -> float:
    import numpy as np
    import requests

    model_id = common.MODEL_IDS[model_key]
    direct = common.DirectF5(common.model_files(folder, model_id))
    ref_bytes = ref.read_bytes()
    session = requests.Session()

    def side_a() -> tuple[float, Any]:
        started = time.perf_counter()
        wave, _ = direct.infer(ref, common.REF_TEXT, common.GEN_TEXT, nfe_step=nfe, seed=seed)
        return time.perf_counter() - started, wave

    def side_b() -> tuple[float, common.Reply, float, Any]:
        reply = common.post_generate(session, server.url, ref_audio=ref_bytes,
                                     ref_text=common.REF_TEXT, gen_text=common.GEN_TEXT,
                                     model=model_id, nfe_step=nfe, seed=seed, timeout=timeout)
        if reply.status != 200:
            raise RuntimeError(f"server answered {reply.status} {reply.error or reply.body}")
        started = time.perf_counter()
        samples = common.reply_samples(reply)
        decode = time.perf_counter() - started
        return reply.seconds + decode, reply, decode, samples

    for _ in range(warmup):
        side_a()
        side_b()

    a_times: list[float] = []
    b_times: list[float] = []
    http_times: list[float] = []
    decode_times: list[float] = []
    timings: dict[str, list[float]] = {}
    wave_a = wave_b = None
    last_body: dict[str, Any] = {}
    for index in range(rounds):
        order = ("a", "b") if index % 2 == 0 else ("b", "a")
        for side in order:
            if side == "a":
                seconds, wave_a = side_a()
                a_times.append(seconds)
            else:
                seconds, reply, decode, wave_b = side_b()
                b_times.append(seconds)
                http_times.append(reply.seconds)
                decode_times.append(decode)
                last_body = reply.body or {}
                for key, value in last_body["timing"].items():
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        timings.setdefault(key, []).append(float(value))

    # The invalid-request probe: the whole multipart upload is parsed and validated, then
    # refused (nfe_step=0 is out of range) - the cost of HTTP + Django + DRF without the engine.
    probe = [common.post_generate(session, server.url, ref_audio=ref_bytes,
                                  ref_text=common.REF_TEXT, gen_text=common.GEN_TEXT,
                                  model=model_id, nfe_step=0, seed=seed, timeout=timeout)
             for _ in range(rounds)]
    probe_400 = common.median([p.seconds for p in probe if p.status == 400])
    health = []
    for _ in range(rounds):
        started = time.perf_counter()
        session.get(f"{server.url}/api/tts/health/", timeout=timeout)
        health.append(time.perf_counter() - started)

    common.upstream_ref_cache_clear()  # upstream leaves its preprocessed temp wavs behind
    a_med, b_med = common.median(a_times), common.median(b_times)
    ratio = b_med / a_med
    paired = common.median([b / a for a, b in zip(a_times, b_times, strict=True)])
    med = {key: common.median(values) for key, values in timings.items()}
    http_med, decode_med = common.median(http_times), common.median(decode_times)

    print(f"-- model {model_id} ({model_key}), nfe {nfe}, seed {seed}, {rounds} interleaved "
          f"rounds after {warmup} warm-up --")
    common.print_table(
        ["side", "includes", "median s", "min s", "max s"],
        [["a direct", "seed_everything + preprocess_ref_audio_text (MD5 cache hit) + "
          "infer_process (torchaudio.load, chunk, sample, vocoder)",
          a_med, min(a_times), max(a_times)],
         ["b server", "client: multipart POST -> JSON reply -> base64 -> WAV -> float samples",
          b_med, min(b_times), max(b_times)]])
    length_a = len(wave_a) / common.SAMPLE_RATE if wave_a is not None else float("nan")
    length_b = len(wave_b) / common.SAMPLE_RATE if wave_b is not None else float("nan")
    diff = (float(np.max(np.abs(np.asarray(wave_a, dtype=np.float32)[:len(wave_b)]
                                - wave_b[:len(wave_a)])))
            if wave_a is not None and wave_b is not None else float("nan"))
    print(f"same work: output {length_a:.3f} s (a) vs {length_b:.3f} s (b); max |a - b| = "
          f"{diff:.5f} (b is 16-bit WAV: quantisation step {1 / 32768:.5f})\n")

    inference = med.get("inference_seconds", float("nan"))
    preprocess = med.get("preprocess_seconds", float("nan"))
    queue = med.get("queue_seconds", float("nan"))
    total = med.get("total_seconds", float("nan"))
    rows = [
        ["server inference_seconds (chunk+sample+vocoder)", inference],
        ["server preprocess_seconds (model status + sha256 + cache hit)", preprocess],
        ["server queue_seconds (model lock, uncontended)", queue],
        ["server rest of total_seconds (wav encode, result)",
         total - inference - preprocess - queue],
        ["HTTP round trip - server total (uvicorn, Django, DRF, multipart, JSON, base64)",
         http_med - total],
        ["client decode (base64 + WAV)", decode_med],
        ["= b median (sum of medians, approx.)", http_med + decode_med],
        ["a median (direct)", a_med],
        ["b - a", b_med - a_med],
        ["b server inference - a (same library call, ref from memory vs file)",
         inference - a_med],
        ["probe: POST refused by validation (HTTP+multipart+DRF, no engine)", probe_400],
        ["probe: GET /api/tts/health/ (HTTP + Django only)", common.median(health)],
    ]
    rows += [[f"micro: {name}", seconds]
             for name, seconds in micro_profile(wave_b, last_body).items()]
    common.print_table(["where the time goes (medians)", "seconds"], rows)
    # Within each server request, its round trip against its own inference: what the server
    # adds on top of the library call, free of the drift between separate a and b runs.
    in_request = common.median([b / i for b, i in zip(
        b_times, timings.get("inference_seconds", []), strict=False) if i > 0])
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"paired: median over rounds of b_i/a_i = {paired:.3f}; within a request: median of "
          f"(client b) / (server inference) = {in_request:.3f}")
    print(f"RATIO {model_id}: b/a = {b_med:.4f} / {a_med:.4f} = {ratio:.3f} "
          f"({verdict} the {TARGET} target)\n")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=sorted(common.MODEL_IDS),
                        default=["tiny", "mid"])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--nfe", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--timeout", type=float, default=300.0, help="per request, seconds")
    parser.add_argument("--workdir", help="models and audio (default: $BENCH_WORKDIR or temp)")
    args = parser.parse_args(argv)
    common.stop_on_sigterm()

    common.print_header("bench/overhead.py: direct f5-tts call vs the server over HTTP",
                        models=" ".join(args.models), nfe=args.nfe, rounds=args.rounds)
    folder = common.workdir(args.workdir)
    models_file = common.prepare_models(folder)
    ref = common.speak(common.REF_TEXT, folder / "overhead-ref.wav")
    print(f"reference: {common.audio_seconds(ref):.2f} s of espeak-ng speech, 24 kHz 16-bit WAV "
          f"({ref.stat().st_size} bytes)\n")
    preload = [common.MODEL_IDS[key] for key in args.models]
    ratios = {}
    with common.Server(models_file, preload=preload, default_model=preload[0],
                       keep_log=folder / "overhead-server.log") as server:
        for key in args.models:
            ratios[key] = run_model(key, folder=folder, server=server, ref=ref,
                                    rounds=args.rounds, warmup=args.warmup, nfe=args.nfe,
                                    seed=args.seed, timeout=args.timeout)
        errors = server.server_errors()
    print(f"direct side (this process) on {common.bench_device()}: peak memory "
          f"{common.peak_memory_mb(common.bench_device()):.1f} MB")
    print(f"server 5xx other than 503 in the access log: {len(errors)}")
    for line in errors[:10]:
        print(line)
    common.print_table(["model", "ratio b/a", f"target <= {TARGET}"],
                       [[common.MODEL_IDS[k], r, "yes" if r <= TARGET else "no"]
                        for k, r in ratios.items()])
    final = ratios.get("mid", next(iter(ratios.values())))
    print(f"RATIO overhead b/a = {final:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
