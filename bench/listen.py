"""Listening back: what timestamps and verify cost, and how well words are placed.

Part 1 (cost), side by side in one run, interleaved round by round: the same generation
without listening, with ``timestamps`` and with ``verify``; total seconds and seconds to the
first chunk (streamed). The model runs for real at its size (random weights: F5TTS_v1_Base by
default, ``--model mid`` for a quick run), and its chunks are then replaced by espeak-ng saying
the chunk's text (tests/support/speaking.py), so that recognition hears real speech and costs
what it costs on real speech; the generation's cost is the model's.

Part 2 (accuracy): sentences spoken word by word by espeak-ng and joined with known gaps (so
every word's true start and end is known to the sample), aligned by the listening pass; the
error of every word boundary (start and end).

    python -m bench.listen [--model F5TTS_v1_Base|mid] [--rounds 1] [--nfe 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

import numpy as np

from bench import common
from tests.support.asr import whisper_model_path
from tests.support.speaking import espeak, speaking_backend

GEN_TEXT = ("The farmer walked slowly to the market in the morning. He bought apples and "
            "fresh bread for his family, and then he went home again.")
SENTENCES = [
    "One morning the farmer walked slowly to the market.",
    "He bought apples and fresh bread for his family.",
    "Later that evening it started to rain very heavily.",
    "Everyone stayed inside and read books by the fire.",
    "The children played quietly while the dog slept near the door.",
    "In the morning the sun came out and the fields were bright.",
]


def build_engine(folder: Path, model: str):
    """An engine on ``model`` whose chunks are spoken by espeak-ng after the model runs."""
    from tts.engine import pool
    from tts.engine.asr import Transcriber
    from tts.engine.backends import f5
    from tts.engine.config import EngineConfig
    from tts.engine.engine import TTSEngine

    common.prepare_models(folder)
    if model == "mid":
        models_file, model_id = folder / "bench-models.toml", "mid-f5"
    else:
        models_file, model_id = common.real_size_model(folder, model)

    def backend_for(spec, device, precision=None, **options):
        base = {"DiT": f5.F5Backend, "UNetT": f5.E2Backend}[spec.architecture]
        return speaking_backend(base, dropping=False)(spec, device, precision, **options)

    pool.backend_for = backend_for
    device = common.bench_device()
    config = EngineConfig(models_file=str(models_file), allow_downloads=False,
                          default_model=model_id, vocoder_path=str(folder / "vocos"),
                          device=device)
    transcriber = Transcriber(whisper_model_path(), device=device, allow_downloads=False)
    return TTSEngine(config, transcriber=transcriber), model_id


def one_generation(engine, model_id, ref, nfe: int, listen) -> tuple[float, float, dict]:
    """Total seconds (every word timed when asked), seconds to the first chunk, and facts."""
    from tts.engine.synthesis import SynthesisParams

    params = SynthesisParams(nfe_step=nfe, seed=1)
    started = time.perf_counter()
    stream = engine.open_stream(engine.admit(model_id), ref, GEN_TEXT, params, streaming=True,
                                listen=listen)
    first = None
    chunks = []
    for chunk in stream:
        if first is None:
            first = time.perf_counter() - started
        chunks.append(chunk)
    words = [w for chunk in chunks if chunk.listening is not None for w in chunk.words()]
    total = time.perf_counter() - started
    return total, first or total, {"chunks": len(chunks), "words": len(words),
                                   "attempts": sum(c["attempts"] for c in stream.checks)}


def cost(args, folder: Path) -> None:
    from tts.engine.listen import ListenOptions

    engine, model_id = build_engine(folder, args.model)
    wav = common.speak(common.REF_TEXT, folder / "ref.wav")
    ref, _ = engine.prepare_reference(wav.read_bytes(), common.REF_TEXT)
    conditions = {"none": None, "timestamps": ListenOptions(words=True),
                  "verify": ListenOptions(verify=True)}
    one_generation(engine, model_id, ref, args.nfe, conditions["timestamps"])  # warm-up
    results: dict[str, list[tuple[float, float, dict]]] = {name: [] for name in conditions}
    for _ in range(args.rounds):
        for name, listen in conditions.items():
            results[name].append(one_generation(engine, model_id, ref, args.nfe, listen))
    base_total = statistics.median(r[0] for r in results["none"])
    base_first = statistics.median(r[1] for r in results["none"])
    rows = []
    for name, runs in results.items():
        total = statistics.median(r[0] for r in runs)
        first = statistics.median(r[1] for r in runs)
        rows.append([name, f"{total:.2f}", f"{total / base_total:.3f}", f"{first:.2f}",
                     f"{first / base_first:.3f}", runs[0][2]["chunks"], runs[0][2]["words"],
                     runs[0][2]["attempts"]])
    print(f"\n## Cost ({model_id}, nfe {args.nfe}, {args.rounds} round(s), median)\n")
    common.print_table(["listening", "total s", "× none", "first chunk s", "× none", "chunks",
                        "words timed", "verify attempts"], rows)


def accuracy(args, folder: Path) -> None:
    from tts.engine import audio
    from tts.engine.asr import Transcriber
    from tts.engine.listen import Listener

    listener = Listener(Transcriber(whisper_model_path(), allow_downloads=False))
    rng = random.Random(0)
    errors: list[float] = []
    heard = total = 0
    for sentence in SENTENCES:
        pieces, truth, position = [], [], 0
        for word in sentence.split():
            spoken = _trimmed(espeak(word))
            gap = np.zeros(int(rng.uniform(0.08, 0.35) * audio.SAMPLE_RATE), np.float32)
            pieces += [gap, spoken]
            position += len(gap)
            truth.append((position / audio.SAMPLE_RATE,
                          (position + len(spoken)) / audio.SAMPLE_RATE))
            position += len(spoken)
        pieces.append(np.zeros(int(0.3 * audio.SAMPLE_RATE), np.float32))
        result = listener.hear(np.concatenate(pieces), audio.SAMPLE_RATE, sentence)
        for word, (start, end) in zip(result.words, truth, strict=True):
            errors += [abs(word.start - start), abs(word.end - end)]
            heard += word.confidence > 0
            total += 1
    rows = [_row("words spoken apart (gaps 80-350 ms)", len(SENTENCES), total, heard, errors)]
    # Connected speech: whole sentences as espeak-ng says them, two to a clip with a pause;
    # the sentences' edges are known (the first word's start, the last word's end).
    errors, heard, total = [], 0, 0
    for first, second in zip(SENTENCES[::2], SENTENCES[1::2], strict=True):
        one, two = _trimmed(espeak(first)), _trimmed(espeak(second))
        lead = np.zeros(int(0.3 * audio.SAMPLE_RATE), np.float32)
        pause = np.zeros(int(rng.uniform(0.4, 0.8) * audio.SAMPLE_RATE), np.float32)
        clip = np.concatenate([lead, one, pause, two, lead])
        edges = [len(lead), len(lead) + len(one), len(lead) + len(one) + len(pause),
                 len(clip) - len(lead)]
        truth = [edge / audio.SAMPLE_RATE for edge in edges]
        result = listener.hear(clip, audio.SAMPLE_RATE, f"{first} {second}")
        count = len(first.split())
        found = [result.words[0].start, result.words[count - 1].end, result.words[count].start,
                 result.words[-1].end]
        errors += [abs(a - b) for a, b in zip(found, truth, strict=True)]
        heard += sum(word.confidence > 0 for word in result.words)
        total += len(result.words)
    rows.append(_row("sentence edges in connected speech", len(SENTENCES), total, heard, errors))
    print("\n## Alignment accuracy (espeak-ng speech, boundaries known to the sample)\n")
    common.print_table(["case", "sentences", "words", "heard", "boundaries", "median error ms",
                        "p90 error ms", "max error ms"], rows)


def _row(case: str, sentences: int, total: int, heard: int, errors: list[float]) -> list:
    return [case, sentences, total, heard, len(errors), f"{1000 * statistics.median(errors):.0f}",
            f"{1000 * common.percentile(errors, 90):.0f}", f"{1000 * max(errors):.0f}"]


def _trimmed(samples: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """espeak-ng's leading and trailing silence cut (the word's true extent)."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return samples[loud[0]:loud[-1] + 1] if loud.size else samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="F5TTS_v1_Base",
                        choices=["F5TTS_v1_Base", "E2TTS_Base", "mid"])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--nfe", type=int, default=7, help="7: the fast preset")
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    common.stop_on_sigterm()
    folder = common.workdir(args.workdir)
    common.print_header("Listening back: timestamps and verify", model=args.model,
                        nfe=args.nfe, rounds=args.rounds)
    accuracy(args, folder)
    if not args.skip_cost:
        cost(args, folder)


if __name__ == "__main__":
    main()
