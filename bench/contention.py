"""Reference preparation against generation on a small CPU: does decoding and transcribing a
new clip (ffmpeg, loudness, Whisper) slow down a generation that runs meanwhile, and how much?

One server with a real-size model (random weights, ``--model``, in the server's precision)
and a real Whisper model (tiny.en, offline: the one the tests use) for references sent without
a transcript. In interleaved rounds:

* ``alone``: one generation (cached reference, ``--quality``), nothing else running;
* ``busy``: the same generation while another client keeps saving new voices (each a new clip,
  no transcript: decode, clip, loudness and speech recognition, no generation);
* the voices' own time, alone and during a generation.

    .venv/bin/python -m bench.contention
    .venv/bin/python -m bench.contention --rounds 3 --server-env TTS_ASR_THREADS=1
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench import common


def post_voice(session: Any, url: str, wav: Path, index: int) -> float:
    """Save voice ``index`` from a new variant of ``wav`` without a transcript; the client's
    seconds."""
    clip = common.variant(wav, index)
    started = time.perf_counter()
    response = session.post(f"{url}/api/tts/voices/", timeout=600,
                            data={"name": f"contention {index}", "consent": "benchmark clip"},
                            files={"ref_audio": ("clip.wav", clip, "audio/wav")})
    if response.status_code != 201:
        raise RuntimeError(f"voice answered {response.status_code}: {response.text[:300]}")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="F5TTS_v1_Base", choices=["F5TTS_v1_Base",
                                                                     "E2TTS_Base"])
    parser.add_argument("--quality", default="fast", choices=["fast", "balanced", "best"])
    parser.add_argument("--rounds", type=int, default=2, help="alone/busy pairs")
    parser.add_argument("--voices", type=int, default=4, help="voices saved with nothing else "
                                                              "running, for their own time")
    parser.add_argument("--server-env", nargs="*", default=[], metavar="NAME=VALUE",
                        help="extra settings for the server")
    parser.add_argument("--workdir", help="models and audio (default: $BENCH_WORKDIR or temp)")
    args = parser.parse_args(argv)
    common.stop_on_sigterm()
    import requests

    from tests.support.asr import whisper_model_path
    from tts.engine.tiny import write_vocos

    extra = dict(item.split("=", 1) for item in args.server_env)
    common.print_header("bench/contention.py: reference preparation vs generation",
                        model=args.model, quality=args.quality, rounds=args.rounds,
                        server_env=" ".join(args.server_env) or "-")
    folder = common.workdir(args.workdir)
    if not (folder / "vocos-full" / "pytorch_model.bin").exists():
        write_vocos(folder / "vocos-full", seed=7, dims=common.FULL_VOCOS_DIMS)
    models_file, model_id = common.real_size_model(folder, args.model)
    wav = common.speak(common.REF_TEXT, folder / "contention-ref.wav")
    clip = wav.read_bytes()
    env = {"TTS_ASR_MODEL": whisper_model_path(), **extra}
    alone: list[float] = []
    busy: list[float] = []
    voices_alone: list[float] = []
    voices_busy: list[float] = []
    counter = iter(range(1, 10**6))
    with common.Server(models_file, preload=[model_id], default_model=model_id,
                       extra_env=env, start_timeout=1800) as server, \
            requests.Session() as session, requests.Session() as voice_session:
        health = session.get(f"{server.url}/api/tts/health/", timeout=30).json()
        print(f"server: {health['compute']['precision']}, threads {health['compute']['threads']}"
              f", ASR {health['asr']['model']}")

        def generate() -> float:
            reply = common.post_generate(session, server.url, ref_audio=clip,
                                         ref_text=common.REF_TEXT, gen_text=common.GEN_TEXT,
                                         model=model_id, nfe_step=None, quality=args.quality,
                                         timeout=3600)
            if reply.status != 200:
                raise RuntimeError(f"generate answered {reply.status}: {reply.body}")
            return reply.seconds

        generate()  # reference cached, first-call paths warm
        post_voice(voice_session, server.url, wav, next(counter))  # ASR load
        for _ in range(args.voices):
            voices_alone.append(post_voice(voice_session, server.url,
                                           wav, next(counter)))
        print(f"voice (new clip, transcribed) alone: median {common.median(voices_alone):.2f} s")

        for round_index in range(args.rounds):
            for kind in (("alone", "busy") if round_index % 2 == 0 else ("busy", "alone")):
                if kind == "alone":
                    alone.append(generate())
                    print(f"  round {round_index + 1} alone: {alone[-1]:.2f} s", flush=True)
                    continue
                done = threading.Event()
                seen: list[float] = []

                def keep_preparing(stop: threading.Event = done, out: list[float] = seen) -> None:
                    while not stop.is_set():
                        out.append(post_voice(voice_session, server.url,
                                              wav, next(counter)))

                worker = threading.Thread(target=keep_preparing, daemon=True)
                worker.start()
                time.sleep(0.2)  # the first preparation is under way
                busy.append(generate())
                done.set()
                worker.join(timeout=600)
                voices_busy += seen
                print(f"  round {round_index + 1} busy: {busy[-1]:.2f} s, {len(seen)} voices "
                      f"saved meanwhile", flush=True)
    ratio = common.median(busy) / common.median(alone)
    common.print_table(["what", "runs", "median s", "min s", "max s"], [
        ["generation alone", len(alone), common.median(alone), min(alone), max(alone)],
        ["generation while voices are prepared", len(busy), common.median(busy), min(busy),
         max(busy)],
        ["voice preparation alone", len(voices_alone), common.median(voices_alone),
         min(voices_alone), max(voices_alone)],
        ["voice preparation during generation", len(voices_busy),
         common.median(voices_busy), min(voices_busy, default=float("nan")),
         max(voices_busy, default=float("nan"))],
    ])
    print(f"RATIO generation busy / alone = {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
