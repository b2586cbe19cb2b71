"""A cancelled stream frees the device: a short request sent right after a long stream's
client hangs up, against the same short request on an idle server (and, for context,
behind a long stream that is read to the end), all in one run.

    .venv/bin/python -m bench.cancel                   # the mid-size model
    .venv/bin/python -m bench.cancel --model tiny --rounds 5
"""

from __future__ import annotations

import argparse
import threading

from bench import common

TARGET = 1.5
SHORT = "A short answer, please."
LONG = " ".join(f"Sentence {n} of a long chapter goes on about the fox and the owl." for n in
                range(1, 41))


def short_request(server: common.Server, session, ask: dict, seed: int) -> float:
    reply = common.post_generate(session, server.url, **ask, gen_text=SHORT, seed=seed)
    assert reply.status == 200, reply.body
    return reply.seconds


def behind_a_stream(server: common.Server, session, ask: dict, seed: int, *,
                    hang_up: bool) -> float:
    """Start a long stream; once its first audio arrives, send the short request."""
    first_audio = threading.Event()
    done = threading.Event()

    def long_stream() -> None:
        import requests

        data = {"ref_text": ask["ref_text"], "gen_text": LONG, "model": ask["model"],
                "nfe_step": str(ask["nfe_step"]), "seed": str(seed), "stream": "true"}
        with requests.post(f"{server.url}/api/tts/generate/", data=data, stream=True,
                           timeout=900, headers={"Accept": "audio/pcm"},
                           files={"ref_audio": ("ref.wav", ask["ref_audio"])}) as response:
            for piece in response.iter_content(chunk_size=None):
                if piece:
                    first_audio.set()
                    if hang_up:
                        break
        done.set()

    thread = threading.Thread(target=long_stream, daemon=True)
    thread.start()
    assert first_audio.wait(600), "the long stream never started"
    seconds = short_request(server, session, ask, seed)
    thread.join(900)
    return seconds


def main() -> None:
    import requests

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mid", choices=["tiny", "mid"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nfe", type=int, default=16)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    common.stop_on_sigterm()
    folder = common.workdir(args.workdir)
    models_file = common.prepare_models(folder)
    ref = common.speak(common.REF_TEXT, folder / "cancel-ref.wav").read_bytes()
    model = common.MODEL_IDS[args.model]
    common.print_header("a cancelled stream frees the device", model=model, rounds=args.rounds,
                        nfe=args.nfe, long_text=f"{len(LONG)} characters")
    ask = {"ref_audio": ref, "ref_text": common.REF_TEXT, "model": model,
           "nfe_step": args.nfe}
    session = requests.Session()
    results: dict[str, list[float]] = {"alone": [], "behind a cancelled stream": [],
                                       "behind a stream read to the end": []}
    with common.Server(models_file, preload=[model], default_model=model) as server:
        short_request(server, session, ask, 0)  # warm-up
        for index in range(args.rounds):
            results["alone"].append(short_request(server, session, ask, index))
            results["behind a cancelled stream"].append(
                behind_a_stream(server, session, ask, index, hang_up=True))
        results["behind a stream read to the end"].append(
            behind_a_stream(server, session, ask, 0, hang_up=False))
        cancelled = server.log_text().count("generation cancelled (the client disconnected)")
    alone = common.median(results["alone"])
    rows = [[name, common.median(values), common.median(values) / alone, len(values)]
            for name, values in results.items()]
    common.print_table(["short request", "median s", "vs alone", "runs"], rows)
    ratio = rows[1][2]
    print(f"streams cancelled in the server log: {cancelled}")
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"behind a cancelled stream / alone = {ratio:.2f}: {verdict} the target of "
          f"<= {TARGET}")


if __name__ == "__main__":
    main()
