"""API keys: hashed, sent as Bearer or X-API-Key, required with TTS_REQUIRE_API_KEY."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.support.helpers import GENERATE, error_of
from tts.access.models import ApiKey

MODELS = "/api/tts/models/"


@pytest.fixture
def keys_required(settings):
    settings.TTS_REQUIRE_API_KEY = True
    return settings


def test_without_a_key_the_api_answers_401_in_the_usual_shape(client, keys_required):
    response = client.get(MODELS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    error = error_of(response)
    assert error["code"] == "api_key_required"
    assert "Authorization: Bearer" in error["detail"] and "X-API-Key" in error["detail"]


@pytest.mark.parametrize("header", ["HTTP_AUTHORIZATION", "HTTP_X_API_KEY"])
def test_a_valid_key_in_either_header_is_accepted(client, keys_required, make_key, header):
    _, raw = make_key()
    value = f"Bearer {raw}" if header == "HTTP_AUTHORIZATION" else raw
    response = client.get(MODELS, **{header: value})
    assert response.status_code == 200, response.content


def test_generation_with_a_key(client, keys_required, make_key, form):
    _, raw = make_key()
    assert client.post(GENERATE, form(), HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    assert client.post(GENERATE, form()).status_code == 401


@pytest.mark.parametrize("state, code", [
    ("wrong", "invalid_api_key"), ("revoked", "api_key_revoked"),
    ("expired", "api_key_expired")])
@pytest.mark.parametrize("required", [True, False])
def test_wrong_revoked_or_expired_keys_are_refused_even_when_keys_are_optional(
        client, settings, make_key, state, code, required):
    settings.TTS_REQUIRE_API_KEY = required
    key, raw = make_key()
    if state == "wrong":
        raw = raw[:-3] + ("aaa" if not raw.endswith("aaa") else "bbb")
    elif state == "revoked":
        key.revoked = True
        key.save()
    elif state == "expired":
        key.expiry_date = timezone.now() - timedelta(minutes=1)
        key.save()
    response = client.get(MODELS, HTTP_X_API_KEY=raw)
    assert response.status_code == 401
    assert error_of(response)["code"] == code


@pytest.mark.parametrize("token", ["not-a-key", "sk-placeholder", "abc.def"])
def test_a_token_that_is_no_key_of_ours_is_ignored_only_while_keys_are_optional(
        client, settings, token):
    settings.TTS_REQUIRE_API_KEY = False
    assert client.get(MODELS, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    settings.TTS_REQUIRE_API_KEY = True
    response = client.get(MODELS, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401 and error_of(response)["code"] == "invalid_api_key"


@pytest.mark.parametrize("path", ["/api/tts/health/", "/api/schema/", "/api/docs/"])
def test_health_and_docs_stay_open_even_with_a_bad_key(client, keys_required, path):
    assert client.get(path).status_code == 200
    assert client.get(path, HTTP_AUTHORIZATION="Bearer nonsense").status_code == 200


def test_keys_are_stored_hashed():
    key, raw = ApiKey.objects.create_key(name="hashed")
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    assert all(raw not in str(value) for value in row.values())
    assert raw.startswith(key.prefix + ".")


def test_management_command_creates_lists_and_revokes(client, keys_required):
    out, err = StringIO(), StringIO()
    call_command("apikeys", "create", "mobile app", "--requests-per-minute", "30",
                 stdout=out, stderr=err)
    raw = out.getvalue().strip()
    prefix = raw.partition(".")[0]
    assert "not shown again" in err.getvalue()
    assert client.get(MODELS, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200

    listing = StringIO()
    call_command("apikeys", "list", stdout=listing)
    line = next(line for line in listing.getvalue().splitlines() if line.startswith(prefix))
    assert "active" in line and "mobile app" in line and "30" in line and raw not in line

    call_command("apikeys", "revoke", prefix, stdout=StringIO())
    response = client.get(MODELS, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401 and error_of(response)["code"] == "api_key_revoked"
    listing = StringIO()
    call_command("apikeys", "list", stdout=listing)
    assert "revoked" in listing.getvalue()
    # Both changes are in the audit log, naming the key (never the secret).
    from tts.access.models import AuditEntry

    rows = AuditEntry.objects.filter(key_prefix=prefix, action__startswith="key_")
    assert sorted(rows.values_list("action", "outcome")) == [("key_create", "ok"),
                                                             ("key_revoke", "ok")]
    assert all(raw not in entry.request_id for entry in rows)


def test_admin_lists_keys_for_a_superuser(client, make_key):
    from django.contrib.auth.models import User

    make_key("shown in admin")
    admin = User.objects.create_superuser("admin", "a@example.com", "pw-for-tests")
    client.force_login(admin)
    response = client.get("/admin/access/apikey/")
    assert response.status_code == 200 and b"shown in admin" in response.content
    assert client.get("/admin/access/auditentry/").status_code == 200


def test_schema_declares_both_key_headers(client, settings):
    settings.TTS_REQUIRE_API_KEY = True
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["apiKeyHeader"] == {**schemes["apiKeyHeader"], "in": "header",
                                       "name": "X-API-Key"}
