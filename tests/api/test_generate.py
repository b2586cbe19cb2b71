"""POST /api/tts/generate/: both encodings, raw audio, and every kind of bad input."""

import base64
import io
import logging

import pytest
import soundfile as sf

from tests.support.audio import REF_TEXT
from tests.support.helpers import GENERATE, error_of


def decode(data: bytes):
    samples, rate = sf.read(io.BytesIO(data))
    return samples, rate


def test_multipart_returns_json_with_decodable_audio(client, form):
    response = client.post(GENERATE, form(), format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    samples, rate = decode(base64.b64decode(body["audio"]))
    assert rate == body["sample_rate"] == 24000
    assert len(samples) / rate == pytest.approx(body["duration"], abs=0.01)
    assert body["format"] == "wav" and body["model"] == "tiny-f5" and body["seed"] == 1
    assert body["ref_text"].startswith(REF_TEXT)
    assert body["parameters"] == {"speed": 1.0, "nfe_step": 4, "cross_fade_duration": 0.15,
                                  "remove_silence": False, "cfg_strength": 2.0,
                                  "sway_sampling_coef": -1.0}
    timing = body["timing"]
    assert timing["real_time_factor"] == pytest.approx(
        timing["inference_seconds"] / body["duration"], rel=0.05)
    assert response["X-Request-ID"]


def test_json_with_base64_reference(client, ref_bytes):
    payload = {"ref_audio": base64.b64encode(ref_bytes).decode(), "ref_text": REF_TEXT,
               "gen_text": "Base64 works too.", "nfe_step": 4, "seed": 3, "model": "tiny-e2",
               "speed": 1.5, "output_format": "flac"}
    response = client.post(GENERATE, payload, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["model"], body["format"], body["parameters"]["speed"]) == ("tiny-e2", "flac",
                                                                          1.5)
    samples, rate = decode(base64.b64decode(body["audio"]))
    assert rate == 24000 and len(samples) / rate == pytest.approx(body["duration"], abs=0.01)


def test_data_url_prefix_is_accepted(client, ref_bytes):
    payload = {"ref_audio": "data:audio/wav;base64," + base64.b64encode(ref_bytes).decode(),
               "ref_text": REF_TEXT, "gen_text": "Data URL.", "nfe_step": 4}
    assert client.post(GENERATE, payload, format="json").status_code == 200


@pytest.mark.parametrize("accept, content_type, fmt", [
    ("audio/wav", "audio/wav", "wav"), ("audio/mpeg", "audio/mpeg", "mp3"),
    ("audio/flac", "audio/flac", "flac"), ("audio/ogg", "audio/ogg", "ogg"),
    ("audio/*", "audio/wav", "wav"),
])
def test_accept_audio_returns_bytes_and_metadata_headers(client, form, accept, content_type, fmt):
    response = client.post(GENERATE, form(), format="multipart", HTTP_ACCEPT=accept)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == content_type
    samples, rate = decode(response.content)
    assert rate == int(response["X-Sample-Rate"]) == 24000
    assert len(samples) / rate == pytest.approx(float(response["X-Duration"]), abs=0.03)
    assert response["X-Model"] == "tiny-f5" and response["X-Seed"] == "1"
    assert f'speech.{fmt}"' in response["Content-Disposition"]


@pytest.mark.parametrize("accept, fields", [
    ("audio/webm", {}), ("audio/x-matroska", {}), ("audio/wav", {"output_format": "mp3"})])
def test_audio_types_we_cannot_serve_are_406(client, form, accept, fields):
    response = client.post(GENERATE, form(**fields), format="multipart", HTTP_ACCEPT=accept)
    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"
    assert accept in error_of(response)["detail"]


def test_response_query_parameter_returns_bytes(client, form):
    response = client.post(GENERATE + "?response=audio", form(output_format="mp3"),
                           format="multipart")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"
    assert decode(response.content)[1] == 24000


def test_errors_are_json_even_when_audio_was_asked_for(client, form):
    response = client.post(GENERATE, form(speed=9), format="multipart", HTTP_ACCEPT="audio/wav")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert error_of(response)["attr"] == "speed"


@pytest.mark.parametrize("field, value, code", [
    ("speed", 0.1, "min_value"), ("speed", 2.5, "max_value"), ("speed", "fast", "invalid"),
    ("nfe_step", 3, "min_value"), ("nfe_step", 65, "max_value"), ("nfe_step", 8.5, "invalid"),
    ("cross_fade_duration", -0.1, "min_value"), ("cross_fade_duration", 1.5, "max_value"),
    ("cfg_strength", 11, "max_value"), ("sway_sampling_coef", -2, "min_value"),
    ("seed", -1, "min_value"), ("seed", 2**32, "max_value"),
    ("output_format", "aiff", "invalid_choice"), ("remove_silence", "perhaps", "invalid"),
])
def test_out_of_range_and_wrong_type_name_the_field_and_range(client, form, field, value, code):
    response = client.post(GENERATE, form(**{field: value}), format="multipart")
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    error = error_of(response)
    assert (error["attr"], error["code"]) == (field, code)
    if code in ("min_value", "max_value"):
        assert "between" in error["detail"] and "default" in error["detail"]


@pytest.mark.parametrize("value", ["NaN", "Infinity"])
def test_non_finite_numbers_are_rejected(client, form, value):
    response = client.post(GENERATE, form(speed=value), format="multipart")
    assert response.status_code == 400
    assert error_of(response)["attr"] == "speed"


def test_blank_text_is_rejected(client, form):
    error = error_of(client.post(GENERATE, form(gen_text="   "), format="multipart"))
    assert (error["attr"], error["code"]) == ("gen_text", "blank")
    assert "text to speak" in error["detail"]


def test_too_long_text_is_rejected_with_the_limit(client, form, settings):
    settings.TTS_MAX_TEXT_CHARS = 50
    response = client.post(GENERATE, form(gen_text="word " * 20), format="multipart")
    error = error_of(response)
    assert response.status_code == 400
    assert (error["attr"], error["code"]) == ("gen_text", "max_length")
    assert "50" in error["detail"] and "TTS_MAX_TEXT_CHARS" in error["detail"]


def test_missing_fields_are_named(client):
    response = client.post(GENERATE, {}, format="json")
    assert response.status_code == 400
    attrs = {error["attr"] for error in response.json()["errors"]}
    assert {"ref_audio", "gen_text"} <= attrs


def test_unknown_field_is_named(client, form):
    error = error_of(client.post(GENERATE, form(nfe_steps=8), format="multipart"))
    assert (error["attr"], error["code"]) == ("nfe_steps", "unknown_field")


def test_malformed_json(client):
    response = client.post(GENERATE, data=b'{"gen_text": "oops"', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["type"] == "client_error"
    assert error_of(response)["code"] == "parse_error"


@pytest.mark.parametrize("body", ["123", "true", "[{}]", "[1, 2]", '"abc"', "null"])
def test_json_body_that_is_not_an_object(client, body):
    response = client.post(GENERATE, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"


def test_bad_base64(client):
    payload = {"ref_audio": "this is not base64!!", "ref_text": REF_TEXT, "gen_text": "Hi."}
    error = error_of(client.post(GENERATE, payload, format="json"))
    assert (error["attr"], error["code"]) == ("ref_audio", "invalid_base64")


def test_reference_audio_that_is_not_audio(client, form, tmp_path):
    fake = tmp_path / "notes.wav"
    fake.write_text("these are not sound waves " * 100)
    response = client.post(GENERATE, form(ref_audio=fake.open("rb")), format="multipart")
    assert response.status_code == 400
    error = error_of(response)
    assert (error["attr"], error["code"]) == ("ref_audio", "undecodable_audio")


def test_json_reference_that_is_a_number(client):
    payload = {"ref_audio": 12345, "ref_text": REF_TEXT, "gen_text": "Hi."}
    error = error_of(client.post(GENERATE, payload, format="json"))
    assert (error["attr"], error["code"]) == ("ref_audio", "invalid")


def test_unsupported_media_type(client):
    response = client.post(GENERATE, data="gen_text=hi", content_type="text/plain")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_not_acceptable(client, form):
    response = client.post(GENERATE, form(), format="multipart", HTTP_ACCEPT="image/png")
    assert response.status_code == 406
    assert error_of(response)["code"] == "not_acceptable"


def test_upload_over_the_limit_is_413(client, form, settings, tmp_path):
    settings.TTS_MAX_UPLOAD_MB = 0.05
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * 100_000)
    response = client.post(GENERATE, form(ref_audio=big.open("rb")), format="multipart")
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "request_too_large" and "TTS_MAX_UPLOAD_MB" in error["detail"]


def test_unknown_model_is_404(client, form):
    response = client.post(GENERATE, form(model="F6-TTS"), format="multipart")
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "model_not_found" and "tiny-f5" in error["detail"]


def test_unavailable_model_is_503_with_reason_and_no_retry_after(client, form, no_network):
    response = client.post(GENERATE, form(model="F5-TTS"), format="multipart")
    assert response.status_code == 503
    assert "Retry-After" not in response  # only the operator can fix missing weights
    error = error_of(response)
    assert error["code"] == "model_unavailable" and "TTS_F5_CKPT" in error["detail"]


def test_missing_transcript_without_asr_says_to_send_it(client, form):
    response = client.post(GENERATE, form(ref_text=""), format="multipart")
    assert response.status_code == 400
    error = error_of(response)
    assert (error["attr"], error["code"]) == ("ref_text", "ref_text_required")
    assert "send ref_text" in error["detail"]


def test_engine_busy_is_503_with_retry_after(client, form, busy_device):
    response = client.post(GENERATE, form(), format="multipart")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert error_of(response)["code"] == "engine_busy"


def test_unexpected_failure_is_a_500_without_traceback(client, form, monkeypatch, caplog):
    from tts.engine.backends.f5 import FlowMatchingBackend

    def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(FlowMatchingBackend, "synthesize_chunk", explode)
    with caplog.at_level(logging.ERROR):
        response = client.post(GENERATE, form(), format="multipart")
    assert response.status_code == 500
    # Logged once, with the traceback, findable by the request id the client was given.
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 1, [record.getMessage() for record in caplog.records]
    assert "secret internal detail" in str(logged[0].exc_info[1])
    assert logged[0].request.request_id == response["X-Request-ID"]
    body = response.json()
    assert body["type"] == "server_error"
    text = response.content.decode()
    assert "secret" not in text and "Traceback" not in text
    assert response["X-Request-ID"]


def test_request_id_is_echoed(client):
    response = client.get("/api/tts/health/", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    response = client.get("/api/tts/health/", HTTP_X_REQUEST_ID="bad id with spaces")
    assert response["X-Request-ID"] != "bad id with spaces"


def test_expected_503s_log_one_warning_without_traceback(client, form, busy_device, caplog):
    with caplog.at_level("INFO"):
        response = client.post(GENERATE, form(), format="multipart")
    assert response.status_code == 503
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "engine_busy" in warnings[0].getMessage()
    assert warnings[0].exc_info is None


def test_log_lines_carry_the_request_id_even_after_the_middleware():
    import logging
    from types import SimpleNamespace

    from tts.observability.request_ids import RequestIdLogFilter

    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "x", (), None)
    record.request = SimpleNamespace(request_id="req-42")
    RequestIdLogFilter().filter(record)
    assert record.request_id == "req-42"


@pytest.mark.parametrize(("fields", "nfe"), [
    ({"quality": "fast", "nfe_step": None}, 7),
    ({"quality": "balanced", "nfe_step": None}, 16),
    ({"nfe_step": None}, 32),  # neither: upstream's default quality
    ({"quality": "fast", "nfe_step": 10}, 10),  # an explicit nfe_step wins
])
def test_quality_presets_map_to_nfe_steps(client, form, fields, nfe):
    response = client.post(GENERATE, form(**fields), format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["parameters"]["nfe_step"] == nfe


def test_fast_preset_gives_the_samples_of_its_nfe_step(client, form):
    fast = client.post(GENERATE, form(quality="fast", nfe_step=None), format="multipart")
    seven = client.post(GENERATE, form(nfe_step=7), format="multipart")
    best = client.post(GENERATE, form(quality="best", nfe_step=None), format="multipart")
    assert fast.json()["audio"] == seven.json()["audio"]
    assert fast.json()["audio"] != best.json()["audio"]


def test_unknown_quality_is_a_400_naming_the_presets(client, form):
    error = error_of(client.post(GENERATE, form(quality="ultra"), format="multipart"))
    assert (error["attr"], error["code"]) == ("quality", "invalid_choice")
    assert "fast, balanced, best" in error["detail"]
