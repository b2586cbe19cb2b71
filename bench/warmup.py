"""Warm-up at start: latency of the first request after the server is ready against the tenth,
with the start-up warm-up (TTS_WARMUP=1, the default) and without it (TTS_WARMUP=0).

Each start: the live server (as ``make serve`` runs it) with the model preloaded, then, as soon
as readiness answers 200, ``--requests`` requests one after another, each with a new reference
clip (one LSB nudged: a cache miss every time, so every request pays the same reference
decoding and only the model's first-use costs can differ). Configurations are interleaved
(warm, cold, warm, cold...) so that machine noise hits both.

    .venv/bin/python -m bench.warmup                       # mid-size model, 2 starts each
    .venv/bin/python -m bench.warmup --models tiny mid --starts 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from bench import common


def one_start(models_file: Path, model_id: str, *, warmup: bool, ref: Path, requests_n: int,
              nfe: int, timeout: float, folder: Path) -> dict[str, Any]:
    import requests

    started = time.perf_counter()
    server = common.Server(models_file, preload=[model_id], default_model=model_id,
                           extra_env={"TTS_WARMUP": "1" if warmup else "0"},
                           keep_log=folder / f"warmup-server-{int(warmup)}.log")
    with server:
        ready = time.perf_counter() - started
        session = requests.Session()
        latencies = []
        for index in range(requests_n):
            reply = common.post_generate(session, server.url,
                                         ref_audio=common.variant(ref, 5000 + index),
                                         ref_text=common.REF_TEXT, gen_text=common.GEN_TEXT,
                                         model=model_id, nfe_step=nfe, seed=index,
                                         timeout=timeout)
            if reply.status != 200:
                raise RuntimeError(f"server answered {reply.status} {reply.error or reply.body}")
            latencies.append(reply.seconds)
    return {"ready": ready, "latencies": latencies}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=sorted(common.MODEL_IDS), default=["mid"])
    parser.add_argument("--starts", type=int, default=2, help="server starts per configuration")
    parser.add_argument("--requests", type=int, default=10, help="requests after each start")
    parser.add_argument("--nfe", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=300.0, help="per request, seconds")
    parser.add_argument("--workdir", help="models and audio (default: $BENCH_WORKDIR or temp)")
    args = parser.parse_args(argv)
    common.stop_on_sigterm()

    common.print_header("bench/warmup.py: first vs tenth request after start, with and "
                        "without warm-up", models=" ".join(args.models), nfe=args.nfe,
                        starts=args.starts, requests=args.requests)
    folder = common.workdir(args.workdir)
    models_file = common.prepare_models(folder)
    ref = common.speak(common.REF_TEXT, folder / "warmup-ref.wav")
    last = args.requests - 1
    summary = []
    for key in args.models:
        model_id = common.MODEL_IDS[key]
        runs: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        for start in range(args.starts):
            for warmup in ((True, False) if start % 2 == 0 else (False, True)):
                runs[warmup].append(one_start(models_file, model_id, warmup=warmup, ref=ref,
                                              requests_n=args.requests, nfe=args.nfe,
                                              timeout=args.timeout, folder=folder))
        rows = []
        for warmup in (True, False):
            for number, run in enumerate(runs[warmup], start=1):
                lat = run["latencies"]
                rows.append([f"TTS_WARMUP={int(warmup)}", number, run["ready"], lat[0],
                             common.median(lat[1:]), lat[last], lat[0] / lat[last],
                             lat[0] / common.median(lat[1:])])
        print(f"-- model {model_id} ({key}), nfe {args.nfe}: seconds --")
        common.print_table(["config", "start", "start to ready", "1st request",
                            "median 2nd..", f"request {args.requests}", "1st / last",
                            "1st / median rest"], rows)
        for warmup in (True, False):
            ratio = common.median([r["latencies"][0] / r["latencies"][last]
                                   for r in runs[warmup]])
            robust = common.median([r["latencies"][0] / common.median(r["latencies"][1:])
                                    for r in runs[warmup]])
            ready = common.median([r["ready"] for r in runs[warmup]])
            summary.append([model_id, f"TTS_WARMUP={int(warmup)}", ready, ratio, robust])
            print(f"RATIO warmup {model_id} TTS_WARMUP={int(warmup)}: first / request "
                  f"{args.requests} = {ratio:.3f}, first / median of the rest = {robust:.3f} "
                  f"(median of {args.starts} starts)")
        print()
    common.print_table(["model", "config", "start to ready s (median)",
                        "first / last request (median)", "first / median rest (median)"],
                       summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
