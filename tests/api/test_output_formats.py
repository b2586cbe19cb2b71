"""Every output format, read back by the usual readers, for whole-file replies, streamed
replies and /v1 replies (always streamed): libsndfile (soundfile) where it reads the format
(wav, flac, ogg/opus, mp3, raw pcm), ffmpeg otherwise (aac). Each reply's length is checked
against the raw pcm reply of the same request (same seed: the same samples)."""

from __future__ import annotations

import io
import subprocess
import wave

import numpy as np
import pytest
import soundfile as sf
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.support.audio import REF_TEXT
from tests.support.helpers import GENERATE
from tts.engine.audio import OUTPUT_FORMATS, ffmpeg_binary

pytestmark = [pytest.mark.django_db,
              pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")]
RATE = 24_000
TEXT = "Every format is read back. A second sentence makes a second chunk."
FORMATS = ["wav", "flac", "ogg", "mp3", "aac", "pcm"]
#: /v1's response_format names for our formats.
V1_NAMES = {"wav": "wav", "flac": "flac", "ogg": "opus", "mp3": "mp3", "aac": "aac",
            "pcm": "pcm"}
#: How far a lossy codec's decoded length may be from the samples (encoder delay, padding
#: to whole frames): lossless formats must match exactly.
LOSSY_SLACK = {"ogg": 0.02, "mp3": 0.08, "aac": 0.1}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "voice-media")


@pytest.fixture
def narrator(client, ref_wav) -> str:
    response = client.post("/v1/audio/voices", {
        "name": "Narrator", "consent": "cons_1", "ref_text": REF_TEXT,
        "audio_sample": SimpleUploadedFile("voice.wav", ref_wav.read_bytes())},
        format="multipart")
    assert response.status_code == 200, response.content
    return response.json()["id"]


def body_of(response) -> bytes:
    assert response.status_code == 200, getattr(response, "content", b"")[:500]
    if response.streaming:
        return b"".join(response)  # consumes the async stream the way Django does
    return response.content


def whole(client, narrator: str, fmt: str) -> bytes:
    response = client.post(GENERATE, {"voice": narrator, "gen_text": TEXT, "nfe_step": 4,
                                      "seed": 5, "output_format": fmt}, format="json",
                           HTTP_ACCEPT=OUTPUT_FORMATS[fmt].content_type)
    assert not response.streaming
    return body_of(response)


def streamed(client, narrator: str, fmt: str) -> bytes:
    response = client.post(GENERATE, {"voice": narrator, "gen_text": TEXT, "nfe_step": 4,
                                      "seed": 5, "output_format": fmt, "stream": True},
                           format="json")
    assert response.streaming and response["Content-Type"] == OUTPUT_FORMATS[fmt].content_type
    return body_of(response)


def v1(client, narrator: str, fmt: str) -> bytes:
    response = client.post("/v1/audio/speech", {
        "model": "tts-1", "input": TEXT, "voice": narrator, "nfe_step": 4, "seed": 5,
        "response_format": V1_NAMES[fmt]}, format="json")
    assert response.streaming
    return body_of(response)


REPLIES = {"whole": whole, "streamed": streamed, "v1": v1}


def ffmpeg_frames(data: bytes) -> int:
    """Samples ffmpeg decodes from ``data``, as 16-bit mono pcm at 24 kHz."""
    done = subprocess.run([ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error",
                           "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", str(RATE),
                           "pipe:1"], input=data, capture_output=True, timeout=60, check=True)
    return len(done.stdout) // 2


def soundfile_frames(data: bytes, fmt: str) -> int:
    """Samples libsndfile reads, after checking that the header's length is the data's."""
    if fmt == "pcm":
        samples, rate = sf.read(io.BytesIO(data), samplerate=RATE, channels=1,
                                subtype="PCM_16", format="RAW", endian="LITTLE")
        return len(samples)
    info = sf.info(io.BytesIO(data))
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert (rate, info.samplerate, info.channels) == (RATE, RATE, 1)
    if fmt in LOSSY_SLACK:  # mp3 without a length header: libsndfile's count is an estimate
        assert info.frames == pytest.approx(len(samples), abs=0.01 * RATE)
    else:
        assert info.frames == len(samples), "the header states the real length"
    return len(samples)


@pytest.mark.parametrize("kind", list(REPLIES))
def test_every_format_is_read_with_its_real_length(client, narrator, kind):
    reply = REPLIES[kind]
    pcm = reply(client, narrator, "pcm")
    assert len(pcm) % 2 == 0
    expected = len(pcm) // 2
    assert expected > RATE // 2
    for fmt in FORMATS:
        data = reply(client, narrator, fmt)
        if fmt == "aac":  # ADTS: libsndfile does not read it
            with pytest.raises(sf.LibsndfileError):
                sf.info(io.BytesIO(data))
            frames = ffmpeg_frames(data)
        else:
            frames = soundfile_frames(data, fmt)
        slack = LOSSY_SLACK.get(fmt, 0) * RATE
        assert frames == pytest.approx(expected, abs=slack), (kind, fmt)


@pytest.mark.parametrize("kind", list(REPLIES))
def test_flac_header_states_the_total_samples(client, narrator, kind):
    data = REPLIES[kind](client, narrator, "flac")
    pcm = np.frombuffer(REPLIES[kind](client, narrator, "pcm"), dtype="<i2")
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO comes first
    streaminfo = data[8:42]
    total = int.from_bytes(streaminfo[13:18], "big") & ((1 << 36) - 1)
    assert total == len(pcm)
    assert ffmpeg_frames(data) == len(pcm)
    # Lossless: the pcm reply's samples (which round differently by at most one step).
    samples = sf.read(io.BytesIO(data), dtype="int16")[0]
    assert np.max(np.abs(samples.astype(np.int32) - pcm)) <= 1


def test_whole_wav_header_has_the_exact_length(client, narrator):
    data = whole(client, narrator, "wav")
    expected = len(whole(client, narrator, "pcm")) // 2
    with wave.open(io.BytesIO(data)) as reader:
        assert reader.getnframes() == expected
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (
            RATE, 1, 2)


@pytest.mark.parametrize("kind", ["streamed", "v1"])
def test_streamed_wav_header_has_no_length_but_its_samples_read_to_the_end(
        client, narrator, kind):
    """As documented (docs/api/streaming.md): the header is written before the length is known;
    libsndfile and ffmpeg read to the end of the data, Python's wave trusts the header."""
    data = REPLIES[kind](client, narrator, "wav")
    expected = len(REPLIES[kind](client, narrator, "pcm")) // 2
    with wave.open(io.BytesIO(data)) as reader:
        assert reader.getnframes() > 2**30  # "until the end of the stream"
        assert len(reader.readframes(reader.getnframes())) // 2 == expected
    assert soundfile_frames(data, "wav") == expected
    assert ffmpeg_frames(data) == expected


def test_v1_sse_flac_deltas_join_into_a_readable_file(client, narrator):
    import base64
    import json

    response = client.post("/v1/audio/speech", {
        "model": "tts-1", "input": TEXT, "voice": narrator, "nfe_step": 4, "seed": 5,
        "response_format": "flac", "stream_format": "sse"}, format="json")
    events = [json.loads(block[len("data: "):])
              for block in body_of(response).decode().split("\n\n") if block]
    joined = b"".join(base64.b64decode(e["audio"]) for e in events
                      if e["type"] == "speech.audio.delta")
    assert events[-1]["type"] == "speech.audio.done"
    frames = soundfile_frames(joined, "flac")
    assert frames == pytest.approx(events[-1]["duration"] * RATE, abs=0.002 * RATE)
    assert joined == v1(client, narrator, "flac")
