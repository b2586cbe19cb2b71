"""Voice match: what speaker similarity and the reference report cost per request.

Side by side in one run, interleaved round by round, with the listening pass already on
(``timestamps``): the same streamed generation without and with ``similarity``; and the
reference report (with the reference's voiceprint) against the generation it comes with. The
model runs for real at its size (random weights; ``--model mid`` for a quick run) and its
chunks are then spoken by espeak-ng (tests/support/speaking.py, as bench/listen.py), so the
encoder and the recogniser work on real speech. Target: similarity + report ≤ 5 % of the
generation at the ``fast`` preset (nfe 7).

    python -m bench.similarity [--model F5TTS_v1_Base|mid] [--rounds 2] [--nfe 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench import common
from bench.listen import GEN_TEXT, build_engine


def one_generation(engine, model_id, ref, nfe: int, listen) -> tuple[float, float]:
    """Total seconds of a streamed generation (every word timed), and the seconds spent
    scoring chunks against the reference (the stream's own timing)."""
    from tts.engine.synthesis import SynthesisParams

    started = time.perf_counter()
    stream = engine.open_stream(engine.admit(model_id), ref, GEN_TEXT,
                                SynthesisParams(nfe_step=nfe, seed=1), streaming=True,
                                listen=listen)
    chunks = list(stream)
    for chunk in chunks:
        if chunk.listening is not None:
            chunk.words()
    return time.perf_counter() - started, stream.timings.get("similarity_seconds", 0.0)


def cost(args, folder: Path) -> None:
    from tts.engine import audio
    from tts.engine.inspection import inspect_reference
    from tts.engine.listen import ListenOptions
    from tts.engine.reference import decode_reference_whole

    engine, model_id = build_engine(folder, args.model)
    wav = common.speak(common.REF_TEXT, folder / "ref.wav")
    data = wav.read_bytes()
    ref, _ = engine.prepare_reference(data, common.REF_TEXT)
    conditions = {"timestamps": ListenOptions(words=True),
                  "timestamps + similarity": ListenOptions(words=True, similarity=True)}
    one_generation(engine, model_id, ref, args.nfe, conditions["timestamps + similarity"])
    results: dict[str, list[float]] = {name: [] for name in conditions}
    scoring: list[float] = []
    reports: list[float] = []
    for _ in range(args.rounds):
        for name, listen in conditions.items():
            total, scored = one_generation(engine, model_id, ref, args.nfe, listen)
            results[name].append(total)
            if listen.similarity:
                scoring.append(scored)
        # The report and the reference voiceprint, as a new upload gets them.
        _, clip, whole = decode_reference_whole(data, engine.config)
        started = time.perf_counter()
        inspect_reference(whole, audio.SAMPLE_RATE, clip, engine.speaker)
        engine.speaker.embed(ref.samples, ref.sample_rate)
        reports.append(time.perf_counter() - started)
    base = statistics.median(results["timestamps"])
    with_similarity = statistics.median(results["timestamps + similarity"])
    report = statistics.median(reports)
    scored = statistics.median(scoring)
    # Wall-clock differences on a shared machine are noisy: the chunks' scoring is also
    # timed inside the stream (similarity_seconds), which is what the ratio uses.
    rows = [["timestamps", f"{base:.2f}", "1.000", "-"],
            ["timestamps + similarity (wall clock)", f"{with_similarity:.2f}",
             f"{with_similarity / base:.3f}", f"{100 * (with_similarity - base) / base:+.1f} %"],
            ["chunk scoring, timed in the stream", f"{scored:.2f}", "-",
             f"{100 * scored / base:+.1f} %"],
            ["reference report + voiceprint (new upload)", f"{report:.2f}", "-",
             f"{100 * report / base:+.1f} %"],
            ["scoring + report, together", f"{scored + report:.2f}", "-",
             f"{100 * (scored + report) / base:+.1f} %"]]
    print(f"\n## Cost ({model_id}, nfe {args.nfe}, {args.rounds} round(s), median, "
          f"{len(ref.samples) / ref.sample_rate:.1f} s reference)\n")
    common.print_table(["condition", "seconds", "× timestamps", "added"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="F5TTS_v1_Base",
                        choices=["F5TTS_v1_Base", "E2TTS_Base", "mid"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--nfe", type=int, default=7, help="7: the fast preset")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    common.stop_on_sigterm()
    folder = common.workdir(args.workdir)
    common.print_header("Voice match: similarity and reference report", model=args.model,
                        nfe=args.nfe, rounds=args.rounds)
    cost(args, folder)


if __name__ == "__main__":
    main()
