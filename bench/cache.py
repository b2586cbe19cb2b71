"""Reference cache: the first request with a new reference clip against repeated requests with
the same clip, through the live server.

Each round uploads a clip the server has never seen (the same speech with one sample nudged
by one LSB: a new content hash, the same decoding and clipping cost), then the same clip
again ``--hits`` times. The server reports ``timing.preprocess_seconds`` (decode with ffmpeg,
validate, clip, trim; or a hash lookup on a hit) and ``timing.reference_cached``. For
comparison, upstream's in-process ``preprocess_ref_audio_text`` (MD5 cache) is timed on the
same clips.

    .venv/bin/python -m bench.cache
    .venv/bin/python -m bench.cache --rounds 8 --hits 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench import common

TARGET = 0.90
#: A longer clip than the other benchmarks use (about 8 s, under the 12 s clip limit), so
#: that preprocessing has work to skip.
CACHE_REF_TEXT = ("Hello there, this is a somewhat longer reference clip for the cache "
                  "benchmark. It has two sentences, so that decoding has real work to do.")


def upstream_preprocess(clip: Path, hits: int) -> tuple[float, float]:
    """Seconds of upstream's ``preprocess_ref_audio_text`` on a new clip, then median on hits."""
    from f5_tts.infer.utils_infer import preprocess_ref_audio_text

    def once() -> float:
        started = time.perf_counter()
        with common.silenced():
            preprocess_ref_audio_text(str(clip), CACHE_REF_TEXT)
        return time.perf_counter() - started

    miss = once()
    return miss, common.median([once() for _ in range(hits)])


def engine_breakdown(data: bytes, rounds: int = 5) -> dict[str, float]:
    """The server's miss path, step by step, in this process (medians over ``rounds``)."""
    import hashlib

    from tts.engine import audio
    from tts.engine.config import EngineConfig
    from tts.engine.reference import validate_and_clip

    cfg = EngineConfig()
    steps: dict[str, list[float]] = {}
    for _ in range(rounds):
        started = time.perf_counter()
        hashlib.sha256(data).hexdigest()
        hashed = time.perf_counter()
        samples = audio.decode(data, sample_rate=audio.SAMPLE_RATE,
                               max_seconds=cfg.max_ref_upload_seconds)
        decoded = time.perf_counter()
        validate_and_clip(samples, audio.SAMPLE_RATE, min_seconds=cfg.min_ref_seconds,
                          max_seconds=cfg.max_ref_upload_seconds,
                          clip_seconds=cfg.max_ref_clip_seconds)
        clipped = time.perf_counter()
        for name, seconds in (("sha256 of the upload (also on a hit)", hashed - started),
                              ("decode: ffmpeg subprocess to f32 24 kHz", decoded - hashed),
                              ("validate + clip + trim (pydub)", clipped - decoded)):
            steps.setdefault(name, []).append(seconds)
    return {name: common.median(values) for name, values in steps.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="new references")
    parser.add_argument("--hits", type=int, default=2, help="repeats of each reference")
    parser.add_argument("--model", choices=sorted(common.MODEL_IDS), default="tiny")
    parser.add_argument("--nfe", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=120.0, help="per request, seconds")
    parser.add_argument("--workdir", help="models and audio (default: $BENCH_WORKDIR or temp)")
    args = parser.parse_args(argv)
    common.stop_on_sigterm()

    import requests

    model_id = common.MODEL_IDS[args.model]
    common.print_header("bench/cache.py: new reference vs the same reference again",
                        model=model_id, nfe=args.nfe, rounds=args.rounds, hits=args.hits)
    folder = common.workdir(args.workdir)
    models_file = common.prepare_models(folder)
    base = common.speak(CACHE_REF_TEXT, folder / "cache-ref.wav")
    print(f"reference: {common.audio_seconds(base):.2f} s of espeak-ng speech, 24 kHz 16-bit "
          f"WAV ({base.stat().st_size} bytes); each round nudges one sample (new hash)\n")

    rows = []
    miss_pre: list[float] = []
    hit_pre: list[float] = []
    miss_rt: list[float] = []
    hit_rt: list[float] = []
    up_miss: list[float] = []
    up_hit: list[float] = []
    wrong_flags = 0
    session = requests.Session()
    with common.Server(models_file, preload=[model_id], default_model=model_id,
                       keep_log=folder / "cache-server.log") as server:

        def send(data: bytes) -> common.Reply:
            reply = common.post_generate(session, server.url, ref_audio=data,
                                         ref_text=CACHE_REF_TEXT, gen_text=common.GEN_TEXT,
                                         model=model_id, nfe_step=args.nfe, seed=1,
                                         timeout=args.timeout)
            if reply.status != 200 or reply.body is None:
                raise RuntimeError(f"server answered {reply.status} {reply.error or reply.body}")
            return reply

        send(common.variant(base, 10_000))  # warm-up: first request, imports, allocator
        for index in range(args.rounds):
            data = common.variant(base, index)
            first = send(data)
            repeats = [send(data) for _ in range(args.hits)]
            timing = first.body["timing"]
            wrong_flags += int(timing["reference_cached"])
            wrong_flags += sum(not r.body["timing"]["reference_cached"] for r in repeats)
            miss_pre.append(timing["preprocess_seconds"])
            miss_rt.append(first.seconds)
            hits = [r.body["timing"]["preprocess_seconds"] for r in repeats]
            hit_pre.extend(hits)
            hit_rt.extend(r.seconds for r in repeats)
            clip = folder / f"cache-upstream-{index}.wav"
            clip.write_bytes(data)
            u_miss, u_hit = upstream_preprocess(clip, args.hits)
            up_miss.append(u_miss)
            up_hit.append(u_hit)
            rows.append([index, timing["preprocess_seconds"], common.median(hits),
                         first.seconds, common.median([r.seconds for r in repeats]),
                         u_miss, u_hit])
        common.upstream_ref_cache_clear()
        errors = server.server_errors()

    common.print_table(["round", "server miss pre s", "server hit pre s", "miss round trip s",
                        "hit round trip s", "upstream miss s", "upstream hit s"], rows)
    m_miss, m_hit = common.median(miss_pre), common.median(hit_pre)
    skipped = 1 - m_hit / m_miss if m_miss > 0 else float("nan")
    saved_rt = common.median(miss_rt) - common.median(hit_rt)
    u_skipped = 1 - common.median(up_hit) / common.median(up_miss)
    common.print_table(["medians", "miss", "hit", "hit/miss", "skipped"], [
        ["server preprocess_seconds", m_miss, m_hit, m_hit / m_miss, f"{skipped:.1%}"],
        ["client round trip", common.median(miss_rt), common.median(hit_rt),
         common.median(hit_rt) / common.median(miss_rt), f"saves {saved_rt:.4f} s"],
        ["upstream preprocess_ref_audio_text", common.median(up_miss), common.median(up_hit),
         common.median(up_hit) / common.median(up_miss), f"{u_skipped:.1%}"],
    ])
    common.print_table(["server miss path, in-process (median of 5)", "seconds"],
                       list(engine_breakdown(common.variant(base, 20_000)).items()))
    print(f"reference_cached flag wrong (miss said cached, or hit said not): {wrong_flags}; "
          f"server 5xx other than 503: {len(errors)}")
    verdict = "meets" if skipped >= TARGET else "misses"
    print(f"RATIO cache: hit/miss preprocessing = {m_hit:.4f} / {m_miss:.4f} = "
          f"{m_hit / m_miss:.3f}, {skipped:.1%} of reference preprocessing skipped on a hit "
          f"({verdict} the {TARGET:.0%} target)")
    return 0 if wrong_flags == 0 and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
