"""Decoding every common input format through ffmpeg, and encoding every output format.

The inputs are made here with ffmpeg from one espeak-ng recording (once per session), so each
format carries the same speech: a decoded file must match the original's length and loudness
envelope, not merely decode to "something".
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.support.speech import INPUT_FORMATS, ffmpeg_make, make_input_formats
from tts.engine import audio
from tts.engine.errors import InvalidReferenceAudio


def envelope(samples: np.ndarray, sample_rate: int = audio.SAMPLE_RATE,
             frame_seconds: float = 0.05) -> np.ndarray:
    """RMS per frame: the shape of the speech, robust to lossy codecs."""
    frame = int(sample_rate * frame_seconds)
    usable = len(samples) // frame * frame
    return np.sqrt(np.mean(samples[:usable].reshape(-1, frame) ** 2, axis=1))


def same_speech(a: np.ndarray, b: np.ndarray, max_shift_seconds: float = 0.1) -> float:
    """Correlation of the loudness envelopes (10 ms frames) of two decodings of the same
    recording, at the best shift within ``max_shift_seconds`` (codecs may add priming)."""
    ea, eb = envelope(a, frame_seconds=0.01), envelope(b, frame_seconds=0.01)
    best = -1.0
    for shift in range(-int(max_shift_seconds / 0.01), int(max_shift_seconds / 0.01) + 1):
        x, y = (ea[shift:], eb) if shift >= 0 else (ea, eb[-shift:])
        n = min(len(x), len(y))
        best = max(best, float(np.corrcoef(x[:n], y[:n])[0, 1]))
    return best


@pytest.fixture(scope="session")
def input_files(ref_wav, tmp_path_factory) -> dict[str, Path]:
    return make_input_formats(ref_wav, tmp_path_factory.mktemp("input-formats"))


@pytest.fixture(scope="session")
def original(ref_wav) -> np.ndarray:
    """The espeak-ng recording as written (22.05 kHz mono), read without ffmpeg."""
    samples, rate = sf.read(ref_wav, dtype="float32")
    assert rate == 22050 and samples.ndim == 1
    return samples


# --- decoding ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(INPUT_FORMATS))
def test_decode_every_input_format_to_mono_24k(name, input_files, original):
    decoded = audio.decode(input_files[name].read_bytes())

    assert decoded.dtype == np.float32 and decoded.ndim == 1
    expected_seconds = len(original) / 22050
    # Same length within codec padding (raw ADTS AAC keeps its ~50 ms of encoder priming).
    assert audio.seconds(decoded, audio.SAMPLE_RATE) == pytest.approx(expected_seconds, abs=0.08)
    # Same speech: loudness follows the original frame by frame.
    reference = audio.decode(input_files["wav-pcm16-22k-mono"].read_bytes())
    assert same_speech(decoded, reference) > 0.9
    # Downmixed, not one channel of several added up past full scale or left silent.
    peak = float(np.max(np.abs(decoded)))
    assert 0.1 * np.max(np.abs(original)) < peak <= 1.0


def test_decode_resamples_to_the_requested_rate(input_files):
    data = input_files["flac-96k"].read_bytes()
    at_16k = audio.decode(data, sample_rate=16_000)
    at_24k = audio.decode(data)
    assert len(at_16k) / 16_000 == pytest.approx(len(at_24k) / 24_000, abs=0.01)


def test_decode_downmixes_a_channel_that_holds_the_speech(ref_wav, tmp_path):
    """Speech on the left only, silence on the right: the mono result still holds it."""
    left_only = ffmpeg_make(tmp_path / "left.wav", "-i", str(ref_wav), "-af",
                            "pan=stereo|c0=c0|c1=0*c0", "-ar", "44100")
    info = sf.info(left_only)
    assert info.channels == 2
    decoded = audio.decode(left_only.read_bytes())
    both = audio.decode(ref_wav.read_bytes())
    assert same_speech(decoded, both) > 0.95
    assert np.max(np.abs(decoded)) > 0.2 * np.max(np.abs(both))


def test_decode_stops_after_max_seconds_plus_one(ref_wav, tmp_path):
    """A 70 s upload is not decoded in full: just enough to tell that it is too long."""
    looped = ffmpeg_make(tmp_path / "long.flac", "-stream_loop", "16", "-i", str(ref_wav))
    assert sf.info(looped).duration > 65
    decoded = audio.decode(looped.read_bytes(), max_seconds=10)
    assert audio.seconds(decoded, audio.SAMPLE_RATE) == pytest.approx(11.0, abs=0.05)
    assert audio.seconds(audio.decode(looped.read_bytes()), audio.SAMPLE_RATE) > 65


@pytest.fixture(scope="session")
def not_audio(tmp_path_factory, ref_wav) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("not-audio")
    image = ffmpeg_make(folder / "red.png", "-f", "lavfi", "-i", "color=red:s=32x32",
                        "-frames:v", "1")
    video = ffmpeg_make(folder / "silent-video.webm", "-f", "lavfi", "-i",
                        "testsrc=s=64x64:d=2:r=10", "-c:v", "libvpx", "-an")
    wav = ref_wav.read_bytes()
    return {
        "random-bytes": np.random.default_rng(0).integers(0, 256, 50_000, np.uint8).tobytes(),
        "text": b"this is not audio, just a sentence in a text file\n" * 100,
        "json": b'{"ref_audio": "not a recording"}',
        "png-image": image.read_bytes(),
        "video-without-audio": video.read_bytes(),
        "wav-header-only": wav[:44],
        "zip": b"PK\x03\x04" + bytes(2000),
    }


@pytest.mark.parametrize("name", ["random-bytes", "text", "json", "png-image",
                                  "video-without-audio", "zip"])
def test_decode_rejects_what_is_not_audio(name, not_audio):
    with pytest.raises(InvalidReferenceAudio) as info:
        audio.decode(not_audio[name])
    assert info.value.code == "undecodable_audio"
    assert info.value.attr == "ref_audio"
    assert "wav, mp3, flac" in info.value.message  # says what to send instead


@pytest.mark.parametrize("kind", ["hls", "ffconcat"])
def test_decode_never_follows_an_upload_to_files_on_the_server(kind, input_files):
    """An uploaded playlist naming a server-side file is not audio; ffmpeg must not open the
    file it names (before the demuxer whitelist, this HLS playlist decoded to that mp3)."""
    target = input_files["mp3-44k-stereo"]
    playlist = {
        "hls": f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:4,\n{target}\n#EXT-X-ENDLIST\n",
        "ffconcat": f"ffconcat version 1.0\nfile {target}\n",
    }[kind]
    with pytest.raises(InvalidReferenceAudio) as info:
        audio.decode(playlist.encode())
    assert info.value.code == "undecodable_audio"


def test_a_wav_header_without_samples_is_empty_not_undecodable(not_audio):
    """A valid WAV with no samples (its header alone) decodes to nothing: say it is empty."""
    with pytest.raises(InvalidReferenceAudio) as info:
        audio.decode(not_audio["wav-header-only"])
    assert info.value.code == "empty_audio" and "no samples" in info.value.message


def test_decode_rejects_empty_input():
    with pytest.raises(InvalidReferenceAudio) as info:
        audio.decode(b"")
    assert info.value.code == "empty_audio"


def test_decode_of_a_truncated_file_keeps_what_is_there(input_files):
    """Half an mp3 (a cut-off upload) still decodes to the half that arrived."""
    data = input_files["mp3-44k-stereo"].read_bytes()
    decoded = audio.decode(data[: len(data) // 2])
    whole = audio.decode(data)
    assert 0.3 * len(whole) < len(decoded) < 0.7 * len(whole)


def test_decode_leaves_no_temp_files(private_tmp, input_files, not_audio):
    audio.decode(input_files["m4a-aac-stereo"].read_bytes())
    with pytest.raises(InvalidReferenceAudio):
        audio.decode(not_audio["random-bytes"])
    with pytest.raises(InvalidReferenceAudio):
        audio.decode(b"")
    assert list(private_tmp.iterdir()) == []


# --- encoding ---------------------------------------------------------------------------------

EXPECTED_CONTAINERS = {
    "wav": ("WAV", "audio/wav"),
    "mp3": ("MP3", "audio/mpeg"),
    "flac": ("FLAC", "audio/flac"),
    "ogg": ("OGG", "audio/ogg"),
}


def test_output_formats_are_exactly_the_documented_ones():
    assert set(audio.OUTPUT_FORMATS) == {"wav", "mp3", "flac", "ogg", "aac", "pcm"}
    assert audio.OUTPUT_FORMATS["ogg"].sf_subtype == "OPUS"


def test_pcm_is_bare_16_bit_samples(ref_bytes):
    samples = audio.decode(ref_bytes)
    encoded = audio.encode(samples, audio.SAMPLE_RATE, "pcm")
    assert audio.OUTPUT_FORMATS["pcm"].content_type == "audio/pcm"
    back = np.frombuffer(encoded, dtype="<i2").astype(np.float32) / 32768
    assert back.shape == samples.shape
    assert np.max(np.abs(back - samples)) < 2 / 32768


@pytest.mark.parametrize("fmt", ["wav", "flac"])
@pytest.mark.parametrize("streamed", [False, True])
def test_lossless_formats_carry_exactly_the_pcm_samples(fmt, streamed, ref_bytes):
    """One quantiser for every lossless reply: a client comparing pcm, wav and flac (whole
    or streamed) sees the very same 16-bit samples, not libsndfile's rounding of the floats."""
    from tts.engine.streaming_audio import stream_encoder

    samples = audio.decode(ref_bytes) * 0.9 + 1e-5  # values between two 16-bit steps
    pcm = np.frombuffer(audio.encode(samples, audio.SAMPLE_RATE, "pcm"), dtype="<i2")
    if streamed:
        out: list[bytes] = []
        encoder = stream_encoder(fmt, audio.SAMPLE_RATE, out.append)
        for piece in np.array_split(samples, 3):
            encoder.write(piece)
        encoder.close()
        data = b"".join(out)
    else:
        data = audio.encode(samples, audio.SAMPLE_RATE, fmt)
    read, _ = sf.read(io.BytesIO(data), dtype="int16")
    assert np.array_equal(read, pcm)


def test_aac_is_adts_that_decodes_to_the_same_speech(ref_bytes):
    samples = audio.decode(ref_bytes)
    encoded = audio.encode(samples, audio.SAMPLE_RATE, "aac")
    assert audio.OUTPUT_FORMATS["aac"].content_type == "audio/aac"
    assert encoded[0] == 0xFF and encoded[1] & 0xF0 == 0xF0  # ADTS sync word
    back = audio.decode(encoded)
    assert audio.seconds(back, audio.SAMPLE_RATE) == pytest.approx(
        audio.seconds(samples, audio.SAMPLE_RATE), abs=0.1)
    assert same_speech(back[: len(samples)], samples) > 0.8


@pytest.mark.parametrize("fmt", ["wav", "pcm", "mp3", "ogg", "aac", "flac"])
def test_stream_encoders_make_one_valid_file_from_pieces(fmt, ref_bytes):
    from tts.engine.streaming_audio import stream_encoder

    samples = audio.decode(ref_bytes)
    out: list[bytes] = []
    encoder = stream_encoder(fmt, audio.SAMPLE_RATE, out.append)
    for piece in np.array_split(samples, 5):
        encoder.write(piece)
    encoder.close()
    data = b"".join(out)
    if fmt == "pcm":
        back = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768
    else:
        back = audio.decode(data)
    assert audio.seconds(back, audio.SAMPLE_RATE) == pytest.approx(
        audio.seconds(samples, audio.SAMPLE_RATE), abs=0.1)
    if fmt in ("wav", "flac"):  # libsndfile reads them, the streaming WAV header too
        read, rate = sf.read(io.BytesIO(data), dtype="float32")
        assert rate == audio.SAMPLE_RATE and len(read) == len(samples)


def test_a_flac_stream_is_held_and_emitted_as_the_whole_file(ref_bytes):
    """FLAC's header states the sample count, which a pipe cannot fill in afterwards: the
    stream emits nothing until it ends, then the whole-file encoding of its samples."""
    from tts.engine.streaming_audio import stream_encoder

    samples = audio.decode(ref_bytes)
    out: list[bytes] = []
    encoder = stream_encoder("flac", audio.SAMPLE_RATE, out.append)
    for piece in np.array_split(samples, 5):
        encoder.write(piece)
        assert out == []
    encoder.close()
    assert b"".join(out) == audio.encode(samples, audio.SAMPLE_RATE, "flac")
    assert sf.info(io.BytesIO(out[0])).frames == len(samples)
    aborted = stream_encoder("flac", audio.SAMPLE_RATE, out.append)
    aborted.write(samples)
    aborted.abort()
    assert len(out) == 1


@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac", "ogg"])
def test_encode_round_trips_duration_rate_and_content(fmt, ref_bytes):
    samples = audio.decode(ref_bytes)
    encoded = audio.encode(samples, audio.SAMPLE_RATE, fmt)

    container, content_type = EXPECTED_CONTAINERS[fmt]
    assert audio.OUTPUT_FORMATS[fmt].content_type == content_type
    info = sf.info(io.BytesIO(encoded))
    assert info.format == container
    if fmt == "ogg":
        assert info.subtype == "OPUS"
    assert info.channels == 1
    assert info.samplerate == audio.SAMPLE_RATE
    assert info.duration == pytest.approx(audio.seconds(samples, audio.SAMPLE_RATE), abs=0.03)
    # What another decoder (ffmpeg) makes of it: the same speech, the same length.
    back = audio.decode(encoded)
    assert audio.seconds(back, audio.SAMPLE_RATE) == pytest.approx(
        audio.seconds(samples, audio.SAMPLE_RATE), abs=0.03)
    assert same_speech(back, samples) > 0.95


def test_segment_round_trip_is_lossless_to_16_bits(ref_bytes):
    samples = audio.decode(ref_bytes)
    segment = audio.to_segment(samples, audio.SAMPLE_RATE)
    assert segment.frame_rate == audio.SAMPLE_RATE and segment.channels == 1
    back = audio.from_segment(segment)
    assert back.shape == samples.shape
    assert np.max(np.abs(back - samples)) < 2 / 32768
