"""The production checklist the server enforces (config/security.py, docs/deployment.md):
refusals off loopback, HTTPS settings that follow the address, a callback secret of its own,
and `check --deploy` clean in the documented production configuration."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import subprocess
import sys

import environ
import pytest

from config.options import SettingsError
from config.security import bind_requirements, derived_callback_secret, https_settings
from tests.test_config import ROOT

GOOD_KEY = secrets.token_urlsafe(64)
GOOD_CALLBACK = secrets.token_urlsafe(48)
PUBLIC = {"host": "0.0.0.0", "demo": False, "secret_key": GOOD_KEY,
          "allowed_hosts": "tts.example.com"}


def clean_env(**extra: str) -> dict[str, str]:
    base = {key: value for key, value in os.environ.items()
            if not key.startswith(("TTS_", "DJANGO_", "HOST"))}
    return {**base, **extra}


@pytest.mark.parametrize("change, words", [
    ({"debug": True}, ["DJANGO_DEBUG must be off"]),
    ({"secret_key": "secret"}, ["DJANGO_SECRET_KEY is 6 characters long", "at least 50"]),
    ({"secret_key": "django-insecure-" + GOOD_KEY}, ["DJANGO_SECRET_KEY looks like a placeholder"]),
    ({"secret_key": "change-me-" + GOOD_KEY}, ["placeholder"]),
    ({"secret_key": "ab" * 40}, ["fewer than 5 different characters"]),
    ({"callback_secret": "hook"}, ["TTS_CALLBACK_SECRET is 4 characters long"]),
    ({"callback_secret": GOOD_KEY}, ["TTS_CALLBACK_SECRET must differ"]),
    ({"demo": True, "debug": True, "secret_key": "", "allowed_hosts": ""}, ["DJANGO_DEBUG"]),
    ({"allowed_hosts": "", "debug": True}, ["DJANGO_DEBUG", "DJANGO_ALLOWED_HOSTS must be set"]),
])
def test_off_loopback_the_server_refuses_to_start_saying_why(change, words):
    with pytest.raises(SettingsError) as caught:
        bind_requirements(**{**PUBLIC, **change})
    message = str(caught.value)
    assert "HOST=0.0.0.0" in message and "secrets.token_urlsafe" in message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("values", [
    PUBLIC, {**PUBLIC, "callback_secret": GOOD_CALLBACK},
    {**PUBLIC, "host": "127.0.0.1", "debug": True, "secret_key": "secret"},  # nobody else
    {**PUBLIC, "host": "::1", "debug": True}, {**PUBLIC, "host": "localhost", "debug": True},
    {"host": "0.0.0.0", "demo": True, "secret_key": "", "allowed_hosts": ""},
])
def test_what_is_allowed(values):
    bind_requirements(**values)


def test_a_refusal_stops_manage_py_with_one_message(tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
        timeout=120, env=clean_env(TTS_VAR_DIR=str(tmp_path), HOST="0.0.0.0", DJANGO_DEBUG="1",
                                   DJANGO_SECRET_KEY="secret",
                                   DJANGO_ALLOWED_HOSTS="tts.example.com"))
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "DJANGO_DEBUG must be off" in done.stderr
    assert "DJANGO_SECRET_KEY is 6 characters long" in done.stderr


@pytest.mark.parametrize("variables, host, demo, expected", [
    ({}, "127.0.0.1", False, (False, 0, False, False)),
    ({}, "0.0.0.0", False, (True, 31536000, True, True)),
    ({}, "0.0.0.0", True, (False, 0, False, False)),  # a throwaway demo over plain HTTP
    ({"DJANGO_HTTPS": "1"}, "127.0.0.1", False, (True, 31536000, True, True)),
    ({"DJANGO_HTTPS": "0"}, "10.0.0.5", False, (False, 0, False, False)),
    ({"DJANGO_HTTPS": "1", "DJANGO_HSTS_SECONDS": "0", "DJANGO_SSL_REDIRECT": "0"},
     "127.0.0.1", False, (True, 0, False, True)),
])
def test_https_settings_follow_the_address(monkeypatch, variables, host, demo, expected):
    for name in ("DJANGO_HTTPS", "DJANGO_SECURE_COOKIES", "DJANGO_HSTS_SECONDS",
                 "DJANGO_SSL_REDIRECT", "DJANGO_PROXY_SSL_HEADER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    found = https_settings(environ.Env(), host=host, demo=demo)
    assert (found.secure_cookies, found.hsts_seconds, found.ssl_redirect,
            found.proxy_ssl_header) == expected
    django = found.django_settings()
    assert ("SECURE_PROXY_SSL_HEADER" in django) == expected[3]


def test_pages_may_not_be_framed(client):
    reply = client.get("/api/tts/health/")
    assert reply["X-Frame-Options"] == "DENY"


def test_callbacks_are_never_signed_with_the_django_key_itself(settings):
    from tts.checks import callback_secret
    from tts.work.jobs.callbacks import signature

    assert settings.TTS_CALLBACK_SECRET not in ("", settings.SECRET_KEY)
    body, stamp = b'{"id": "x"}', 1700000000
    with_django_key = hmac.new(settings.SECRET_KEY.encode(), f"{stamp}.".encode() + body,
                               hashlib.sha256).hexdigest()
    assert with_django_key not in signature(body, stamp)
    assert derived_callback_secret(settings.SECRET_KEY) == settings.TTS_CALLBACK_SECRET
    settings.CALLBACK_SECRET_DERIVED = True
    assert [warning.id for warning in callback_secret(None)] == ["tts.W010"]
    settings.CALLBACK_SECRET_DERIVED = False
    assert callback_secret(None) == []


def test_check_deploy_is_clean_in_the_documented_production_configuration(tmp_path):
    """The .env of docs/deployment.md, with its placeholders filled in."""
    page = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    block = page.split("A production `.env`", 1)[1].split("```bash\n", 1)[1].split("```")[0]
    documented = {}
    for line in block.splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            documented[name] = value
    # django-environ keeps a "# comment" after a value as part of it.
    assert all(" #" not in value for value in documented.values()), "comments on own lines"
    for name, value in documented.items():
        if value.startswith("<"):  # <64 random characters>, <a token for Prometheus>
            documented[name] = secrets.token_urlsafe(64)
    assert {"DJANGO_HTTPS", "DJANGO_SECRET_KEY", "TTS_CALLBACK_SECRET"} <= set(documented)
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          # The machine's GPU (tts.W001 for a CUDA build without one) is not
                          # what this test is about.
                          env=clean_env(TTS_VAR_DIR=str(tmp_path), TTS_DEVICE="cpu",
                                        **documented))
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout, done.stdout + done.stderr
