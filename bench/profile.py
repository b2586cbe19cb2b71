"""Where one request's time goes: a ``quality=fast`` POST /api/tts/generate/ profiled end to
end in one process, on the real-size F5TTS_v1_Base (random weights, full-size Vocos).

The request goes through Django's own request handling (the view, the multipart parsing,
reference decoding by ffmpeg, the text front-end, the engine, WAV encoding, base64 and JSON)
by Django's test client: everything of a served request but the socket, whose cost
``bench.overhead`` measures (8-10 ms a request). Two views of the same request:

* **stages**: wall seconds inside the pipeline's parts (the transformer's forward passes, the
  vocoder, the reference mel, text to tokens, the front-end, encoding), timed by wrappers that
  this script puts around them (nothing in the server is changed);
* **top entries**: cProfile over every thread the request ran on (upstream runs each chunk on
  a pool thread), by own time: the transformer's arithmetic shows as torch's operators.

    .venv/bin/python -m bench.profile                 # fast preset, one warm request
    .venv/bin/python -m bench.profile --text "Hello there." --top 25
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import os
import pstats
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import common

TEXT = "The quick brown fox jumps over the lazy dog."


class Stages:
    """Wall seconds and calls per named stage (nested stages count in both)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.seconds[name] += seconds
            self.calls[name] += 1

    def wrap(self, owner: Any, attribute: str, name: str) -> None:
        """Time every call of ``owner.attribute`` as ``name``."""
        original = getattr(owner, attribute)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)

        setattr(owner, attribute, timed)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()


def instrument(stages: Stages) -> None:
    """Timers around the pipeline's parts (upstream's and the server's)."""
    from f5_tts.infer import utils_infer
    from f5_tts.model import cfm, modules
    from vocos import Vocos

    from tts.engine import audio, engine, frontend, reference, synthesis
    from tts.engine.backends import f5
    from tts.work import speech

    stages.wrap(cfm.CFM, "sample", "sampling (CFM.sample: ODE, transformer)")
    stages.wrap(modules.MelSpec, "forward", "reference mel (MelSpec)")
    stages.wrap(utils_infer, "convert_char_to_pinyin", "text to tokens (convert_char_to_pinyin)")
    stages.wrap(Vocos, "decode", "vocoder (Vocos.decode)")
    stages.wrap(f5.FlowMatchingBackend, "synthesize_chunk", "chunk (synthesize_chunk)")
    stages.wrap(synthesis, "_split", "chunking (chunk_text)")
    stages.wrap(frontend, "prepare", "text front-end (frontend.prepare)")
    stages.wrap(audio, "encode", "encoding (audio.encode)")
    stages.wrap(reference, "decode_reference", "reference decoding and clipping")
    stages.wrap(engine.TTSEngine, "prepare_reference", "reference preparation (all)")
    stages.wrap(speech, "generate_here", "service (generate_here)")
    # frontend.prepare is imported by name into synthesis: time that name too.
    if hasattr(synthesis, "prepare"):
        stages.wrap(synthesis, "prepare", "text front-end (frontend.prepare)")


def transformer_timer(model: Any, stages: Stages) -> None:
    """The transformer's forward passes (every denoising step: both guidance halves)."""
    starts: dict[int, float] = {}

    def before(module: Any, args: Any) -> None:
        starts[threading.get_ident()] = time.perf_counter()

    def after(module: Any, args: Any, output: Any) -> None:
        stages.add("transformer forward passes",
                   time.perf_counter() - starts.pop(threading.get_ident()))

    model.transformer.register_forward_pre_hook(before)
    model.transformer.register_forward_hook(after)


@contextlib.contextmanager
def profiled_threads() -> Iterator[list[cProfile.Profile]]:
    """cProfile in this thread and in every thread started meanwhile."""
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def start_in_thread(*_: Any) -> None:
        sys.setprofile(None)
        profile = cProfile.Profile()
        with lock:
            profiles.append(profile)
        profile.enable()

    main = cProfile.Profile()
    profiles.append(main)
    threading.setprofile(start_in_thread)
    main.enable()
    try:
        yield profiles
    finally:
        main.disable()
        threading.setprofile(None)
        for profile in profiles[1:]:
            with contextlib.suppress(Exception):
                profile.disable()


def top_entries(profiles: list[cProfile.Profile], count: int) -> str:
    stream = io.StringIO()
    stats = pstats.Stats(profiles[0], stream=stream)
    for profile in profiles[1:]:
        with contextlib.suppress(TypeError):  # a thread that never ran Python code
            stats.add(profile)
    stats.strip_dirs().sort_stats("tottime").print_stats(count)
    return stream.getvalue()


def django_client(models_file: Path, model_id: str, var_dir: Path) -> Any:
    os.environ.update(TTS_MODELS_FILE=str(models_file), TTS_DEFAULT_MODEL=model_id,
                      TTS_PRELOAD="", TTS_VAR_DIR=str(var_dir), TTS_MIN_FREE_MB="0",
                      DJANGO_SETTINGS_MODULE="config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    with common.silenced():
        call_command("migrate", "--noinput", verbosity=0)
    from django.test import Client

    return Client(HTTP_HOST="127.0.0.1")


def post(client: Any, ref: bytes, text: str, model_id: str, seed: int) -> tuple[int, dict]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post("/api/tts/generate/", data={
        "ref_audio": SimpleUploadedFile("ref.wav", ref, content_type="audio/wav"),
        "ref_text": common.REF_TEXT, "gen_text": text, "model": model_id, "quality": "fast",
        "seed": str(seed), "output_format": "wav"})
    return response.status_code, response.json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="F5TTS_v1_Base", choices=["F5TTS_v1_Base",
                                                                       "E2TTS_Base", "mid"])
    parser.add_argument("--text", default=TEXT)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    common.stop_on_sigterm()
    folder = common.workdir(args.workdir)
    common.prepare_models(folder)  # the full-size Vocos (vocos-full) and the mid-size model
    if args.model == "mid":
        models_file, model_id = folder / "bench-models.toml", "mid-f5"
    else:
        models_file, model_id = common.real_size_model(folder, args.model)
    ref = common.speak(common.REF_TEXT, folder / "profile-ref.wav").read_bytes()
    common.print_header("bench/profile.py: one fast request, end to end", model=model_id,
                        text=f"{args.text!r} ({len(args.text)} characters)")
    var_dir = folder / "profile-var"
    var_dir.mkdir(exist_ok=True)
    client = django_client(models_file, model_id, var_dir)

    stages = Stages()
    instrument(stages)
    from tts.work.runtime import get_engine

    lease = get_engine().pool.acquire(model_id)  # loads it (not part of a request)
    transformer_timer(lease.backend._model, stages)
    lease.release()
    # Warm-up: first-call costs (jieba's dictionary, allocator) and the reference cache: the
    # request measured is a warm server's request with a new reference clip.
    status, body = post(client, ref, "Hi.", model_id, seed=1)
    assert status == 200, body
    stages.reset()
    clip = common.variant(folder / "profile-ref.wav", 1)  # a new clip: prepared again
    started = time.perf_counter()
    with profiled_threads() as profiles:
        status, body = post(client, clip, args.text, model_id, seed=0)
    wall = time.perf_counter() - started
    assert status == 200, body
    print(f"one request: {wall:.2f} s wall for {body['duration']:.2f} s of audio "
          f"(server inference {body['timing']['inference_seconds']:.2f} s, "
          f"nfe {body['parameters']['nfe_step']}, chunks {body.get('chunks', '?')}); "
          f"load {os.getloadavg()[0]:.2f}\n")
    rows = [[name, stages.calls[name], seconds, seconds / wall]
            for name, seconds in sorted(stages.seconds.items(), key=lambda kv: -kv[1])]
    common.print_table(["stage", "calls", "seconds", "share of request"], rows)
    transformer = stages.seconds.get("transformer forward passes", 0.0)
    print(f"RATIO transformer share of the request: {transformer / wall:.4f}")
    print(f"RATIO not the transformer: {(wall - transformer) / wall:.4f} "
          f"({wall - transformer:.2f} s)\n")
    print(f"top {args.top} entries by own time (cProfile, every thread; profiling adds its own "
          "overhead to Python-heavy parts):")
    print(top_entries(profiles, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
