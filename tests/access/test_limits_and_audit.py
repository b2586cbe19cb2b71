"""Rate limits and audio quotas (429 + Retry-After), and the audit log they rest on."""

from __future__ import annotations

import csv
import hashlib
import json
import time
from io import StringIO

import pytest
from django.core.management import call_command

from tests.support.helpers import GENERATE, error_of
from tts.access.models import AuditEntry


def assert_throttled(response, code: str, *, at_most: int) -> None:
    assert response.status_code == 429, response.content
    assert error_of(response)["code"] == code
    assert 1 <= int(response["Retry-After"]) <= at_most


def test_requests_per_minute_per_client_ip(client, settings, form):
    settings.TTS_RATE_LIMIT_PER_MINUTE = 2
    for _ in range(2):  # invalid requests count too: the limit protects the server
        assert client.post(GENERATE, {}).status_code == 400
    assert_throttled(client.post(GENERATE, form()), "rate_limited", at_most=60)
    # Another client address has its own budget.
    assert client.post(GENERATE, {}, REMOTE_ADDR="10.0.0.9").status_code == 400


def test_a_keys_own_rate_limit_wins_and_other_keys_are_unaffected(client, settings, make_key):
    settings.TTS_RATE_LIMIT_PER_MINUTE = 100
    _, strict = make_key("strict", requests_per_minute=1)
    _, other = make_key("other")
    assert client.post(GENERATE, {}, HTTP_X_API_KEY=strict).status_code == 400
    assert_throttled(client.post(GENERATE, {}, HTTP_X_API_KEY=strict), "rate_limited",
                     at_most=60)
    assert client.post(GENERATE, {}, HTTP_X_API_KEY=other).status_code == 400


def test_a_key_with_limit_zero_is_unlimited(client, settings, make_key):
    settings.TTS_RATE_LIMIT_PER_MINUTE = 1
    _, free = make_key("free", requests_per_minute=0)
    for _ in range(3):
        assert client.post(GENERATE, {}, HTTP_X_API_KEY=free).status_code == 400


#: "Hello from the tests." (21 bytes) reserves 21 / 12 = 1.75 s at admission: a quota just
#: above it admits one such request, and refuses the next once the first made any audio.
ONE_REQUEST = 1.76


def test_daily_audio_quota_per_key(client, form, make_key):
    key, raw = make_key("quota", audio_seconds_per_day=ONE_REQUEST)
    first = client.post(GENERATE, form(), HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert first.status_code == 200
    assert first.json()["duration"] > 0.01
    second = client.post(GENERATE, form(), HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert_throttled(second, "audio_quota_exceeded", at_most=24 * 3600)
    assert int(second["Retry-After"]) > 23 * 3600  # the first generation leaves the window
    assert "1.76 s of generated audio per 24 h" in error_of(second)["detail"]
    assert "left" in error_of(second)["detail"]


def test_daily_audio_quota_per_ip_without_keys(client, settings, form):
    settings.TTS_AUDIO_SECONDS_PER_DAY = ONE_REQUEST
    assert client.post(GENERATE, form()).status_code == 200
    assert_throttled(client.post(GENERATE, form()), "audio_quota_exceeded", at_most=86400)
    assert client.post(GENERATE, form(), REMOTE_ADDR="10.0.0.7").status_code == 200


def test_generation_is_audited_without_its_text(client, form, make_key, ref_bytes):
    key, raw = make_key("audited")
    text = "A sentence that must not be kept."
    reply = client.post(GENERATE, form(gen_text=text), HTTP_X_API_KEY=raw,
                        HTTP_X_REQUEST_ID="audit-test-1")
    assert reply.status_code == 200
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.api_key, entry.key_prefix, entry.model, entry.status,
            entry.outcome) == ("generate", key, key.prefix, "tiny-f5", 200, "ok")
    assert entry.text_chars == len(text) and entry.text == ""
    assert entry.ref_sha256 == hashlib.sha256(ref_bytes).hexdigest()
    assert entry.audio_seconds == pytest.approx(reply.json()["duration"])
    assert entry.request_id == "audit-test-1" and entry.client_ip == "127.0.0.1"
    row = AuditEntry.objects.filter(pk=entry.pk).values().get()
    assert all(text not in str(value) for value in row.values())


def test_failures_are_audited_with_their_code(client, form):
    assert client.post(GENERATE, form(model="no-such-model")).status_code == 404
    assert client.post(GENERATE, form(gen_text="")).status_code == 400
    outcomes = list(AuditEntry.objects.order_by("created").values_list("status", "outcome"))
    assert outcomes == [(404, "model_not_found"), (400, "blank")]


def test_operator_may_keep_the_text(client, settings, form):
    settings.TTS_AUDIT_STORE_TEXT = True
    assert client.post(GENERATE, form(gen_text="Keep me.")).status_code == 200
    assert AuditEntry.objects.get().text == "Keep me."


def test_export_audit_as_csv_and_json_lines(client, form, make_key):
    key, raw = make_key("exported")
    assert client.post(GENERATE, form(), HTTP_X_API_KEY=raw).status_code == 200
    assert client.post(GENERATE, form()).status_code == 200
    out = StringIO()
    call_command("export_audit", stdout=out)
    rows = list(csv.DictReader(StringIO(out.getvalue())))
    assert [row["key_prefix"] for row in rows] == [key.prefix, ""]
    assert all(row["outcome"] == "ok" and float(row["audio_seconds"]) > 0 for row in rows)
    out = StringIO()
    call_command("export_audit", "--format", "jsonl", "--key", key.prefix, stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 1 and lines[0]["model"] == "tiny-f5" and lines[0]["text"] == ""
    out = StringIO()
    call_command("export_audit", "--since", "2999-01-01", stdout=out)
    assert out.getvalue().strip().count("\n") == 0  # header only


@pytest.mark.django_db(transaction=True)  # the stream's worker thread writes with its own
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")  # connection
def test_streamed_audio_is_audited_and_counts_against_the_quota(client, form, make_key):
    from tts.access.models import AudioReservation

    key, raw = make_key("streamer", audio_seconds_per_day=ONE_REQUEST)
    streamed = client.post(GENERATE, form(stream="true"), HTTP_X_API_KEY=raw,
                           HTTP_ACCEPT="audio/wav")
    assert streamed.status_code == 200 and streamed.streaming
    assert AudioReservation.objects.filter(api_key=key).count() == 1  # held while it streams
    assert len(b"".join(streamed)) > 1000
    entry = AuditEntry.objects.get(api_key=key)
    assert entry.model == "tiny-f5" and entry.audio_seconds > 0.01
    deadline = time.monotonic() + 10  # settled by the stream's end, in its worker thread
    while AudioReservation.objects.filter(api_key=key).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not AudioReservation.objects.filter(api_key=key).exists()
    assert_throttled(client.post(GENERATE, form(stream="true"), HTTP_X_API_KEY=raw),
                     "audio_quota_exceeded", at_most=86400)


def test_the_per_minute_limit_can_live_in_a_shared_redis_and_fails_open_without_it(
        client, settings):
    import redis

    from tests.support.services import redis_database

    redis_cache = "django.core.cache.backends.redis.RedisCache"
    settings.TTS_RATE_LIMIT_PER_MINUTE = 2
    with redis_database() as url:
        settings.CACHES = {"default": {"BACKEND": redis_cache, "LOCATION": url}}
        for _ in range(2):
            assert client.post(GENERATE, {}).status_code == 400
        assert_throttled(client.post(GENERATE, {}), "rate_limited", at_most=60)
        assert redis.Redis.from_url(url).keys("*throttle:generation:ip:127.0.0.1")
    settings.CACHES = {"default": {"BACKEND": redis_cache, "LOCATION": "redis://127.0.0.1:1/0"}}
    assert client.post(GENERATE, {}).status_code == 400  # no cache: not limited, no 500
