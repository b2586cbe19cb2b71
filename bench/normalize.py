"""What the text front-end (pauses, normalisation, lexicon) adds to a request, as a share of
the generation time, on a long chapter at the ``fast`` preset (nfe 7).

The chapter is about 25,000 characters of English prose with numbers, dates, money, units and
abbreviations in about every third sentence (and a Chinese chapter when asked). The front-end
is timed the way a request runs it (``plan_text``: cut at pauses, normalise, apply the
lexicon), cold (the first request of a process: the grammars load) and warm (the median of
later ones). Generation runs the engine on the spoken text: every chunk with the tiny model,
or the first ``--chunks`` with a real-size model, the rest extrapolated from their mean. The
target: warm front-end time at most 1 % of the generation time at ``fast`` with a real-size
model (``--model F5TTS_v1_Base``, random weights: the cost of the trained model).

    .venv/bin/python -m bench.normalize                         # tiny model, every chunk
    .venv/bin/python -m bench.normalize --model F5TTS_v1_Base --chunks 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench import common

TARGET = 0.01
FAST_NFE = 7

ENGLISH_SENTENCES = [
    "The morning train left the station at 6:45 am, twelve minutes late.",
    "Nobody on the platform seemed to mind the cold or the long wait.",
    "Dr. Hughes had paid $12.50 for a ticket that cost £9.99 a year before.",
    "She read the letter twice, folded it, and put it back in her coat.",
    "By 3/14/2025 the line had carried 1,250,000 passengers over 42 km of track.",
    "Outside, the fields ran on towards the hills under a pale and patient sky.",
    "The 1990s had been kinder to the town, when 25% of its people worked at the mill.",
    "He remembered the smell of the river and the sound of the bells on Sundays.",
    "Room No. 5 on the 3rd floor was kept for her, as it had been since 1987.",
    "Her brother wrote that the harvest was poor but the children were well.",
    "It was 20°C in the carriage, and the heater still ran at 2.5 kW.",
    "They spoke of little things, of weather and of neighbours and old friends.",
]
CHINESE_SENTENCES = [
    "列车在早上6:45离开车站，晚了十二分钟。",
    "站台上的人似乎并不在意寒冷和漫长的等待。",
    "到2025年3月14日，这条线路已运送了1,250,000名乘客。",
    "她把信读了两遍，折好，放回了大衣口袋里。",
    "车厢里气温是20°C，票价是12.5元，比去年涨了15%。",
    "窗外的田野一直延伸到远处的山丘。",
]


def chapter(sentences: list[str], chars: int) -> str:
    """Paragraphs of the sentences, repeated with other numbers, to about ``chars``."""
    out, total, round_index = [], 0, 0
    while total < chars:
        for sentence in sentences:
            text = sentence.replace("12.50", f"{12 + round_index}.50")
            out.append(text)
            total += len(text) + 1
        round_index += 1
    return " ".join(out)


def time_front_end(text: str, repeat: int) -> tuple[float, float, int, int]:
    """Cold and warm (median) seconds of the front-end on ``text``, the spoken text's length
    and its number of stretches."""
    from tts.engine.frontend import Lexicon, parse_entries
    from tts.engine.synthesis import SynthesisParams, plan_text

    lexicon = Lexicon(parse_entries({"nginx": "engine x", "SQL": "sequel", "Hughes": "hews"}))
    params = SynthesisParams(nfe_step=FAST_NFE)
    started = time.perf_counter()
    plan = plan_text(text, params, lexicon=lexicon)
    cold = time.perf_counter() - started
    warm = []
    for _ in range(repeat):
        started = time.perf_counter()
        plan = plan_text(text, params, lexicon=lexicon)
        warm.append(time.perf_counter() - started)
    return cold, statistics.median(warm), len(plan.spoken_text), len(plan.pieces)


def engine_for(folder: Path, model: str, device: str):
    from tts.engine.config import EngineConfig
    from tts.engine.engine import TTSEngine

    if model == "tiny":
        models_file, model_id = common.prepare_models(folder), "tiny-f5"
        vocoder = folder / "vocos"
    else:
        common.prepare_models(folder)  # the full-size Vocos the real-size model uses
        models_file, model_id = common.real_size_model(folder, model)
        vocoder = folder / "vocos-full"
    config = EngineConfig(models_file=str(models_file), default_model=model_id,
                          vocoder_path=str(vocoder), allow_downloads=False, device=device,
                          max_loaded_models=1)
    return TTSEngine(config), model_id


def time_generation(engine, model_id: str, ref, text: str,
                    chunks: int) -> tuple[float, float, int, int]:
    """Inference seconds and audio seconds for the whole ``text`` (measured over its first
    ``chunks`` chunks, 0 = all, the rest extrapolated), chunks in all and chunks measured."""
    from tts.engine.synthesis import SynthesisParams

    engine.load_model(model_id)
    warm = engine.open_stream(engine.admit(model_id), ref, "A short warm-up sentence.",
                              SynthesisParams(nfe_step=FAST_NFE, seed=1))
    warm.collect()
    stream = engine.open_stream(engine.admit(model_id), ref, text,
                                SynthesisParams(nfe_step=FAST_NFE, seed=1))
    total = stream.total_chunks
    measured = 0
    try:
        for _ in stream:
            measured += 1
            if chunks and measured >= chunks:
                break
    finally:
        stream.close()
    inference = stream.timings["inference_seconds"]
    scale = total / measured
    return inference * scale, stream.emitted_seconds * scale, total, measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", choices=["tiny", "F5TTS_v1_Base"])
    parser.add_argument("--chunks", type=int, default=None,
                        help="chunks generated (default: all with tiny, 2 with a real size)")
    parser.add_argument("--chars", type=int, default=25_000, help="chapter length")
    parser.add_argument("--chinese", action="store_true", help="a Chinese chapter too")
    parser.add_argument("--repeat", type=int, default=5, help="warm front-end runs")
    parser.add_argument("--workdir", help="models and audio (default: $BENCH_WORKDIR or temp)")
    args = parser.parse_args()
    chunks = args.chunks if args.chunks is not None else (0 if args.model == "tiny" else 2)
    device = common.bench_device()
    common.print_header("Text front-end cost", device, model=args.model, nfe=FAST_NFE,
                        chapter_chars=args.chars)
    folder = common.workdir(args.workdir)
    texts = {"English": chapter(ENGLISH_SENTENCES, args.chars)}
    if args.chinese:
        texts["Chinese"] = chapter(CHINESE_SENTENCES, args.chars // 3)
    timed = {name: time_front_end(text, args.repeat) for name, text in texts.items()}

    engine, model_id = engine_for(folder, args.model, device)
    clip = common.speak(common.REF_TEXT, folder / "normalize-ref.wav")
    ref, _ = engine.prepare_reference(clip.read_bytes(), common.REF_TEXT)
    rows = []
    for name, text in texts.items():
        cold, warm, spoken_chars, pieces = timed[name]
        generation, seconds, total, measured = time_generation(engine, model_id, ref, text,
                                                               chunks)
        # The real-time factor at which the front-end would be exactly TARGET of generation.
        break_even = warm / (TARGET * seconds)
        rows.append([name, len(text), spoken_chars, total, measured, f"{cold:.3f}",
                     f"{warm:.3f}", f"{seconds:.0f}", f"{generation:.1f}",
                     f"{warm / generation:.3%}", f"{cold / generation:.3%}",
                     f"{break_even:.4f}"])
    common.print_table(["chapter", "chars", "spoken chars", "chunks", "generated",
                        "front-end cold s", "warm s", "audio s", "generation s", "warm share",
                        "cold share", "RTF for 1 %"], rows)
    print(f"target: warm front-end <= {TARGET:.0%} of generation at fast with a real-size "
          f"model. Generation here: {args.model} on {device}"
          + (" (far faster than a real-size model: an upper bound of the share)"
             if args.model == "tiny" else "")
          + ". 'RTF for 1 %': the front-end stays under 1 % wherever generation's real-time "
          "factor at fast is above this.")


if __name__ == "__main__":
    main()
