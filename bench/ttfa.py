"""Time to first audio: a streamed request's first audio byte against the whole file of the
same request, both over HTTP from the running server, in the same run.

The text has several sentences; the stream cuts its first chunk to about a quarter of a chunk
so that the first audio costs a fraction of a sentence. Rounds alternate stream/whole-file
after a warm-up, so other load on the machine hits both sides.

    .venv/bin/python -m bench.ttfa                     # tiny and mid-size models
    .venv/bin/python -m bench.ttfa --models mid --rounds 7
    .venv/bin/python -m bench.ttfa --models tiny --format flac   # first byte of another format
    .venv/bin/python -m bench.ttfa --models mid --precision int8 --compile 0   # a variant

``--precision`` and ``--compile`` are the server's TTS_PRECISION and TTS_COMPILE (the
variants of bench/rtf.py), so first audio can be compared across them.
"""

from __future__ import annotations

import argparse

from bench import common

TARGET = 0.3
STORY = ("The quick brown fox jumps over the lazy dog, and then it runs far away. "
         "Later that evening it comes back to the river to drink some water. "
         "Nobody in the village has ever seen a fox as patient as this one.")


def run_model(server: common.Server, model_key: str, ref: bytes, *, rounds: int,
              nfe: int, fmt: str = "pcm") -> tuple[float, float, float]:
    import requests

    model = common.MODEL_IDS[model_key]
    session = requests.Session()
    ask = {"ref_audio": ref, "ref_text": common.REF_TEXT, "gen_text": STORY, "model": model,
           "nfe_step": nfe}
    common.post_stream(server.url, **ask)  # warm-up (reference cache, first-use costs)
    common.post_generate(session, server.url, **ask)
    firsts, stream_totals, wholes = [], [], []
    for index in range(rounds):
        order = ("stream", "whole") if index % 2 == 0 else ("whole", "stream")
        for kind in order:
            if kind == "stream":
                timing = common.post_stream(server.url, **ask, seed=index, output_format=fmt)
                assert timing.status == 200 and timing.audio_bytes > 0
                firsts.append(timing.first_audio)
                stream_totals.append(timing.total)
            else:
                reply = common.post_generate(session, server.url, **ask, seed=index)
                assert reply.status == 200, reply.body
                wholes.append(reply.seconds)
    return common.median(firsts), common.median(stream_totals), common.median(wholes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "mid"], choices=["tiny", "mid"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nfe", type=int, default=16)
    parser.add_argument("--format", default="pcm",
                        choices=["pcm", "wav", "mp3", "ogg", "aac", "flac"],
                        help="the streamed reply's format (the whole file stays JSON with wav)")
    parser.add_argument("--precision", default="auto",
                        choices=["auto", "float32", "bfloat16", "float16", "int8"],
                        help="the server's TTS_PRECISION")
    parser.add_argument("--compile", default="auto", choices=["auto", "1", "0"],
                        help="the server's TTS_COMPILE")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    common.stop_on_sigterm()
    folder = common.workdir(args.workdir)
    models_file = common.prepare_models(folder)
    ref = common.speak(common.REF_TEXT, folder / "ttfa-ref.wav").read_bytes()
    preload = [common.MODEL_IDS[key] for key in args.models]
    common.print_header("time to first audio: streamed vs whole file", rounds=args.rounds,
                        nfe=args.nfe, text=f"{len(STORY)} characters, 3 sentences",
                        stream_format=args.format, precision=args.precision,
                        compile=args.compile)
    rows = []
    env = {"TTS_PRECISION": args.precision, "TTS_COMPILE": args.compile,
           "TTS_COMPILE_CACHE_DIR": str(folder / "compile-cache")}
    with common.Server(models_file, preload=preload, default_model=preload[0],
                       extra_env=env) as server:
        for key in args.models:
            first, stream_total, whole = run_model(server, key, ref, rounds=args.rounds,
                                                   nfe=args.nfe, fmt=args.format)
            rows.append([key, first, stream_total, whole, first / whole])
    common.print_table(["model", "first audio s", "stream total s", "whole file s",
                        "first / whole"], rows)
    worst = max(row[-1] for row in rows)
    verdict = "meets" if worst <= TARGET else "misses"
    print(f"worst first-audio ratio {worst:.3f}: {verdict} the target of <= {TARGET}")


if __name__ == "__main__":
    main()
