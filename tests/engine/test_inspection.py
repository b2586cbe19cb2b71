"""The reference report on real speech: each defect (made with ffmpeg from espeak-ng speech) is
found in the clip that has it and not in the clean clip."""

from __future__ import annotations

import pytest

from tests.support.defects import clean, defective
from tts.engine import audio
from tts.engine.inspection import inspect_reference
from tts.engine.reference import validate_and_clip
from tts.engine.voiceprint import SpeakerEncoder

DEFECTS = {"noise": "noisy", "tones": "music_or_tone", "clipping": "clipping",
           "silence": "mostly_silence", "second_voice": "multiple_speakers",
           "cut": "cut_mid_word"}


@pytest.fixture(scope="module")
def encoder() -> SpeakerEncoder:
    return SpeakerEncoder()


def report_of(path, encoder) -> dict:
    samples = audio.decode(path.read_bytes())
    _, clip = validate_and_clip(samples, audio.SAMPLE_RATE, min_seconds=1, max_seconds=30,
                                clip_seconds=12)
    return inspect_reference(samples, audio.SAMPLE_RATE, clip, encoder)


@pytest.fixture(scope="module")
def clean_report(tmp_path_factory, encoder) -> dict:
    return report_of(clean(tmp_path_factory.mktemp("clean")), encoder)


def test_a_clean_clip_has_no_findings(clean_report):
    assert clean_report["findings"] == [] and clean_report["severity"] == "ok"
    assert clean_report["speech_ratio"] > 0.8 and clean_report["clipping_share"] == 0
    assert -30 < clean_report["loudness_lufs"] < -10
    assert clean_report["snr_db"] > 20 and clean_report["speaker_consistency"] > 0.62


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_each_defect_is_found_in_its_clip_and_not_in_the_clean_one(tmp_path, encoder,
                                                                   clean_report, defect):
    report = report_of(defective(tmp_path, defect), encoder)
    codes = {finding["code"]: finding for finding in report["findings"]}
    assert DEFECTS[defect] in codes, report
    assert DEFECTS[defect] not in {f["code"] for f in clean_report["findings"]}
    finding = codes[DEFECTS[defect]]
    assert finding["severity"] in ("warning", "severe") and len(finding["detail"]) > 40
    assert report["findings"][0]["severity"] == report["severity"]  # worst first


def test_the_silence_clip_is_shortened_to_its_speech(tmp_path, encoder):
    report = report_of(defective(tmp_path, "silence"), encoder)
    assert report["seconds"] > 19 and report["kept_seconds"] < 9
