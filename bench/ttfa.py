"""Time to first audio and underruns, per server variant, in one table: a streamed request's
first audio byte against the whole file of the same request, both over HTTP from the running
server, with each variant's start-up (cold and warm compile cache), real-time factor and
memory, all measured in the same run.

The text has several sentences; the stream paces its chunks (tts.engine.pacing: the first
about a second of speech, then as long as the measured cost allows), so first audio costs a
short phrase. A listener playing the stream at real time from its first byte is simulated
on the pcm bytes as they arrive: an **underrun** is a piece that arrives after what came
before it has finished playing (tts.engine.pacing.PlaybackClock, the server's own counter).
Rounds alternate stream/whole-file after a warm-up, so other load on the machine hits both.

A **variant** is the server's TTS_PRECISION, with ``+compile`` for TTS_COMPILE=1 (``auto``:
the server's defaults). Variants run one after the other, each on its own server; a
``+compile`` variant starts twice, first with an empty compile cache (cold) then with the
one the first start filled (warm). Start-up is from launch to ready with the model loaded
(migrations included, the same for every variant).

    .venv/bin/python -m bench.ttfa                     # tiny and mid-size models, auto
    .venv/bin/python -m bench.ttfa --models mid --rounds 7
    .venv/bin/python -m bench.ttfa --models tiny --format flac   # first byte of another format
    .venv/bin/python -m bench.ttfa --models F5TTS_v1_Base --nfe 7 --rounds 1 --text short \\
        --variants float32 int8 bfloat16 bfloat16+compile     # the real size, every variant
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from bench import common

TARGET = 0.3
STORY = ("The quick brown fox jumps over the lazy dog, and then it runs far away. "
         "Later that evening it comes back to the river to drink some water. "
         "Nobody in the village has ever seen a fox as patient as this one.")
#: Two sentences: the real-size model on a 2-core CPU in minutes, not tens of minutes.
SHORT = "The quick brown fox jumps over the lazy dog. Later it comes back to the river."
REAL_SIZE = ("F5TTS_v1_Base", "E2TTS_Base")


def run_model(server: common.Server, model: str, ref: bytes, *, rounds: int, nfe: int,
              text: str, fmt: str = "pcm") -> dict[str, Any]:
    """Warm-up, then ``rounds`` of stream and whole file, alternating; the medians."""
    import requests

    session = requests.Session()
    ask = {"ref_audio": ref, "ref_text": common.REF_TEXT, "gen_text": text, "model": model,
           "nfe_step": nfe}
    # Warm-up (reference cache, first-use costs) and a first measure of a chunk's cost,
    # which paces the streams that follow.
    common.post_stream(server.url, **{**ask, "gen_text": "Hi."}, timeout=3600)
    firsts, stream_totals, wholes, audio, underruns, stalled = [], [], [], [], [], []
    for index in range(rounds):
        order = ("stream", "whole") if index % 2 == 0 else ("whole", "stream")
        for kind in order:
            if kind == "stream":
                timing = common.post_stream(server.url, **ask, seed=index, output_format=fmt,
                                            timeout=3600)
                assert timing.status == 200 and timing.audio_bytes > 0
                firsts.append(timing.first_audio)
                stream_totals.append(timing.total)
                if fmt == "pcm":
                    clock = timing.underruns()
                    underruns.append(clock.underruns)
                    stalled.append(clock.stalled_seconds)
            else:
                reply = common.post_generate(session, server.url, **ask, seed=index,
                                             timeout=3600)
                assert reply.status == 200, reply.body
                wholes.append(reply.seconds)
                audio.append(reply.body["duration"])
    health = session.get(f"{server.url}/api/tts/health/", timeout=30).json()
    weights = session.get(f"{server.url}/api/tts/models/{model}/", timeout=30).json()
    return {"first": common.median(firsts), "stream": common.median(stream_totals),
            "whole": common.median(wholes), "audio": common.median(audio),
            "underruns": sum(underruns) if underruns else None,
            "stalled": sum(stalled) if stalled else None,
            "rss_gb": health["device_info"]["memory_used_mb"] / 1024,
            "weights_gb": (weights.get("weights_mb") or float("nan")) / 1024,
            "compute": health.get("compute", {})}


def split_variant(variant: str) -> tuple[str, str]:
    """``bfloat16+compile`` -> (``bfloat16``, ``1``); ``auto`` -> (``auto``, ``auto``); a
    precision alone -> (it, ``0``)."""
    precision, _, extra = variant.partition("+")
    if extra == "compile":
        return precision, "1"
    return precision, "auto" if precision == "auto" else "0"


def timed_start(models_file: Path, model: str, env: dict[str, str], timeout: float
                ) -> tuple[common.Server, float]:
    server = common.Server(models_file, preload=[model], default_model=model, extra_env=env,
                           start_timeout=timeout)
    started = time.perf_counter()
    server.start()
    return server, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "mid"],
                        choices=["tiny", "mid", *REAL_SIZE])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nfe", type=int, default=16)
    parser.add_argument("--text", default="story", choices=["story", "short"],
                        help="three sentences (story) or two short ones")
    parser.add_argument("--format", default="pcm",
                        choices=["pcm", "wav", "mp3", "ogg", "aac", "flac"],
                        help="the streamed reply's format (the whole file stays JSON with wav); "
                             "underruns are counted on pcm")
    parser.add_argument("--variants", nargs="+", default=None,
                        help="server variants: TTS_PRECISION (auto, float32, bfloat16, "
                             "float16, int8), +compile for TTS_COMPILE=1 (default: auto, or "
                             "--precision/--compile)")
    parser.add_argument("--precision", default="auto",
                        choices=["auto", "float32", "bfloat16", "float16", "int8"],
                        help="the server's TTS_PRECISION (one variant)")
    parser.add_argument("--compile", default="auto", choices=["auto", "1", "0"],
                        help="the server's TTS_COMPILE (one variant)")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    common.stop_on_sigterm()
    folder = common.workdir(args.workdir)
    bench_models = common.prepare_models(folder)
    ref = common.speak(common.REF_TEXT, folder / "ttfa-ref.wav").read_bytes()
    text = STORY if args.text == "story" else SHORT
    variants = args.variants or [f"{args.precision}{'+compile' if args.compile == '1' else ''}"]
    common.print_header("time to first audio, underruns and start-up per variant",
                        rounds=args.rounds, nfe=args.nfe,
                        text=f"{len(text)} characters, {text.count('.')} sentences",
                        stream_format=args.format, variants=" ".join(variants))
    rows = []
    run_id = time.strftime("%Y%m%d-%H%M%S")
    for key in args.models:
        if key in REAL_SIZE:
            models_file, model = common.real_size_model(folder, key)
        else:
            models_file, model = bench_models, common.MODEL_IDS[key]
        for variant in variants:
            precision, compile_setting = split_variant(variant)
            cache = folder / f"compile-cache-{run_id}-{key}-{variant}"  # empty: a cold start
            env = {"TTS_PRECISION": precision, "TTS_COMPILE": compile_setting,
                   "TTS_COMPILE_CACHE_DIR": str(cache)}
            server, cold = timed_start(models_file, model, env, timeout=3600)
            warm = float("nan")
            if compile_setting == "1":  # again, with the cache the first start filled
                server.stop()
                server, warm = timed_start(models_file, model, env, timeout=3600)
            try:
                result = run_model(server, model, ref, rounds=args.rounds, nfe=args.nfe,
                                   text=text, fmt=args.format)
                server.report_device()
            finally:
                server.stop()
            compute = result["compute"]
            print(f"{key} {variant}: {compute.get('precision')} "
                  f"({compute.get('precision_reason')}); start {cold:.1f} s"
                  f"{f', warm {warm:.1f} s' if warm == warm else ''}; load "
                  f"{os.getloadavg()[0]:.2f}", flush=True)
            rows.append([key, variant, cold, warm, result["whole"], result["audio"],
                         result["whole"] / result["audio"], result["first"],
                         result["first"] / result["whole"], result["stream"],
                         "-" if result["underruns"] is None else result["underruns"],
                         "-" if result["stalled"] is None else round(result["stalled"], 2),
                         f"{result['weights_gb']:.2f}", f"{result['rss_gb']:.2f}"])
    common.print_table(["model", "variant", "start s", "warm start s", "whole file s",
                        "audio s", "RTF", "first audio s", "first / whole", "stream total s",
                        "underruns", "stalled s", "weights GB", "RSS GB"], rows)
    print("start: launch to ready with the model loaded (cold compile cache; warm start only "
          "for +compile); RTF: whole file's round trip / its audio seconds; first / whole: "
          "the stream's first audio byte / the whole file's round trip; underruns and "
          "stalled: a listener playing each stream at real time from its first byte, summed "
          "over the rounds; RSS: the server's resident memory after its runs.")
    for row in rows:
        print(f"RATIO first/whole {row[0]} {row[1]}: {row[8]:.3f}")
    worst = max(row[8] for row in rows)
    verdict = "meets" if worst <= TARGET else "misses"
    print(f"worst first-audio ratio {worst:.3f}: {verdict} the target of <= {TARGET}")


if __name__ == "__main__":
    main()
