"""Hardening: admin login lock-out, what health and readiness show to whom, callback
addresses (a table of 30+, names resolved for real on this machine), callback statuses as
categories, conflicting credentials, a disallowed Host."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.support.helpers import error_of
from tts.work.errors import InvalidInput
from tts.work.jobs import callbacks
from tts.work.jobs.callbacks import CallbackRefused, attempt_delivery, check_callback_url

HEALTH, READY, MODELS = "/api/tts/health/", "/api/tts/health/ready/", "/api/tts/models/"


# --- admin login -------------------------------------------------------------------------

def test_admin_login_locks_out_after_the_configured_wrong_passwords(db, settings):
    settings.AXES_FAILURE_LIMIT = 3
    get_user_model().objects.create_superuser("ops", "ops@example.com", "right-password")
    browser = Client()
    login = "/admin/login/?next=/admin/"
    for _ in range(2):
        response = browser.post(login, {"username": "ops", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    assert browser.post(login, {"username": "ops", "password": "wrong"}).status_code == 429
    # Locked: even the right password is refused now.
    assert browser.post(login, {"username": "ops",
                                "password": "right-password"}).status_code == 429
    from axes.models import AccessAttempt

    assert AccessAttempt.objects.filter(username="ops", failures_since_start__gte=3).exists()


def test_a_right_password_before_the_limit_signs_in(db, settings):
    settings.AXES_FAILURE_LIMIT = 3
    get_user_model().objects.create_superuser("ops", "ops@example.com", "right-password")
    browser = Client()
    login = "/admin/login/?next=/admin/"
    assert browser.post(login, {"username": "ops", "password": "wrong"}).status_code == 200
    response = browser.post(login, {"username": "ops", "password": "right-password"})
    assert response.status_code == 302 and browser.get("/admin/").status_code == 200


# --- health and readiness ------------------------------------------------------------------

@pytest.fixture
def not_ready_with_a_path(monkeypatch):
    from tts.services import health
    from tts.work.status import Readiness

    state = Readiness(False, "tiny-f5", "checkpoint not found at /srv/secret/models/x.pt "
                      "(set TTS_MODELS_FILE)")

    class Stub:  # the executor's own readiness; everything else is real
        def readiness(self):
            return state

        def health(self):
            return {}

    monkeypatch.setattr(health, "executor", lambda: Stub())
    return state


def test_readiness_hides_paths_unless_an_admin_key_asks(client, make_key, settings,
                                                        not_ready_with_a_path, caplog):
    settings.TTS_REQUIRE_API_KEY = True
    _, plain = make_key("tenant")
    _, admin = make_key("ops", is_admin=True)
    with caplog.at_level(logging.WARNING, logger="tts.services.health"):
        for headers in ({}, {"HTTP_AUTHORIZATION": f"Bearer {plain}"}):
            response = client.get(READY, **headers)
            assert response.status_code == 503
            detail = error_of(response)["detail"]
            assert "/srv" not in detail and "<path>" in detail and "TTS_MODELS_FILE" in detail
        full = error_of(client.get(READY, HTTP_AUTHORIZATION=f"Bearer {admin}"))["detail"]
    assert "/srv/secret/models/x.pt" in full
    assert any("/srv/secret/models/x.pt" in record.getMessage() for record in caplog.records)


def test_health_hides_storage_paths_and_worker_hosts_from_non_admins(client, make_key,
                                                                     monkeypatch):
    from tts.services import health

    response = client.get(HEALTH)
    assert response.status_code == 200
    assert all("path" not in place for place in response.json()["storage"].values())
    monkeypatch.setattr(health, "executor", lambda: type("Stub", (), {
        "health": lambda self: {"workers": [{"name": "gpu-node-7.internal:4242"}],
                                "warnings": ["weights at /opt/weights/a.pt are old"]}})())
    public = health.health_status(full=False)
    assert public["workers"][0]["name"] == "worker-1"
    assert public["warnings"] == ["weights at <path> are old"]
    assert all("path" not in place for place in public["storage"].values())
    full = health.health_status(full=True)
    assert full["workers"][0]["name"] == "gpu-node-7.internal:4242"
    assert all("path" in place for place in full["storage"].values())


# --- callback addresses ----------------------------------------------------------------------

#: (address as written in the URL's host, allowed?) with TTS_CALLBACK_ALLOW_PRIVATE off.
ADDRESSES = [
    ("93.184.216.34", True),            # global unicast
    ("8.8.8.8", True),
    ("1.1.1.1", True),
    ("[2606:4700:4700::1111]", True),   # global unicast IPv6
    ("[2a00:1450:4001:82a::200e]", True),
    ("127.0.0.1", False),               # loopback
    ("127.8.9.10", False),
    ("10.1.2.3", False),                # private
    ("172.16.0.1", False),
    ("192.168.1.1", False),
    ("169.254.169.254", False),         # link-local (cloud metadata)
    ("100.64.0.1", False),              # shared address space (CGNAT)
    ("0.0.0.0", False),                 # unspecified
    ("0.1.2.3", False),                 # "this network"
    ("224.0.0.1", False),               # multicast
    ("239.255.255.250", False),
    ("240.0.0.1", False),               # reserved
    ("255.255.255.255", False),         # broadcast
    ("192.0.0.8", False),               # IETF protocol assignments
    ("192.0.2.1", False),               # documentation
    ("198.18.0.1", False),              # benchmarking
    ("192.88.99.1", False),             # 6to4 relay anycast
    ("[::1]", False),                   # IPv6 loopback
    ("[::]", False),                    # IPv6 unspecified
    ("[::7f00:1]", False),              # IPv4-compatible 127.0.0.1
    ("[::ffff:127.0.0.1]", False),      # IPv4-mapped loopback
    ("[::ffff:8.8.8.8]", False),        # IPv4-mapped, even of a global address
    ("[64:ff9b::7f00:1]", False),       # NAT64 of 127.0.0.1
    ("[64:ff9b::808:808]", False),      # NAT64, whatever it embeds
    ("[64:ff9b:1::a00:1]", False),      # local-use NAT64
    ("[2002:7f00:1::]", False),         # 6to4 of 127.0.0.1
    ("[2002:808:808::1]", False),       # 6to4 of a global address
    ("[2001:0:4136:e378:8000:63bf:3fff:fdd2]", False),  # Teredo
    ("[2001:db8::1]", False),           # documentation
    ("[fc00::1]", False),               # unique local
    ("[fd12:3456::1]", False),
    ("[fe80::1]", False),               # link-local
    ("[fec0::1]", False),               # site-local (deprecated)
    ("[ff02::1]", False),               # multicast
    ("[100::1]", False),                # discard-only
    ("[5f00::1]", False),               # segment routing
    # Names the resolver reads as addresses (no DNS needed: resolved here for real).
    ("127.1", False),
    ("2130706433", False),
    ("0x7f000001", False),
    ("0x7f.0.0.1", False),
    ("017700000001", False),
    ("localhost", False),
    ("api.localhost", False),
]


@pytest.mark.parametrize("host, allowed", ADDRESSES)
def test_callback_address_table_at_submission(host, allowed, settings):
    settings.TTS_CALLBACK_ALLOW_PRIVATE = False
    url = f"https://{host}/hook"
    if allowed:
        check_callback_url(url)
    else:
        with pytest.raises(InvalidInput) as refused:
            check_callback_url(url)
        assert refused.value.code == "callback_not_allowed"


@pytest.mark.parametrize("host, allowed", ADDRESSES)
def test_callback_address_table_at_delivery(host, allowed, settings):
    """Every address as the delivery sees it after resolving the name (numeric names and
    localhost are resolved by this machine's resolver; nothing is connected to)."""
    settings.TTS_CALLBACK_ALLOW_PRIVATE = False
    name = host.strip("[]")
    try:
        resolved = {info[4][0].partition("%")[0]
                    for info in socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)}
    except socket.gaierror:  # e.g. api.localhost where the resolver does not know it
        pytest.skip(f"{name} does not resolve on this machine")
    verdicts = {callbacks.refusal(ipaddress.ip_address(address)) is None
                for address in resolved}
    assert verdicts == {allowed}, resolved
    if not allowed:
        with pytest.raises(CallbackRefused):
            callbacks._checked_addresses(name, 443)


def test_a_resolved_name_is_refused_when_any_address_it_gives_is_refused(monkeypatch,
                                                                          settings):
    """A name (answered by a stub resolver: no DNS traffic leaves this machine) with one
    global and one private address is refused; one with global addresses only is allowed."""
    settings.TTS_CALLBACK_ALLOW_PRIVATE = False
    table = {"mixed.example": ["93.184.216.34", "10.0.0.5"],
             "nat64.example": ["64:ff9b::a00:5"], "public.example": ["93.184.216.34"]}

    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM,
                 6, "", (address, port)) for address in table[host]]

    monkeypatch.setattr(callbacks.socket, "getaddrinfo", resolve)
    for name in ("mixed.example", "nat64.example"):
        with pytest.raises(CallbackRefused):
            callbacks._checked_addresses(name, 443)
    assert callbacks._checked_addresses("public.example", 443) == ["93.184.216.34"]


def test_private_allowed_still_refuses_multicast_broadcast_and_transition_forms(settings):
    settings.TTS_CALLBACK_ALLOW_PRIVATE = True
    for host in ("127.0.0.1", "10.0.0.1", "[::1]", "[fd00::1]", "localhost"):
        check_callback_url(f"http://{host}/hook")
    for host in ("224.0.0.1", "255.255.255.255", "0.0.0.0", "[ff02::1]", "[::7f00:1]",
                 "[64:ff9b::7f00:1]", "[2002:7f00:1::]", "240.0.0.1"):
        with pytest.raises(InvalidInput):
            check_callback_url(f"http://{host}/hook")


# --- callback status is a category -----------------------------------------------------------

class Teapot(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(418, "I am a secret internal service v1.2")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_callback_outcomes_are_categories_not_the_remote_answer(settings, caplog):
    settings.TTS_CALLBACK_ALLOW_PRIVATE = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), Teapot)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    document = {"id": "job-1"}
    try:
        with caplog.at_level(logging.WARNING, logger="tts.work.jobs.callbacks"):
            assert attempt_delivery(f"http://127.0.0.1:{server.server_port}/",
                                    document) == (False, "refused by receiver")
    finally:
        server.shutdown()
        server.server_close()
    assert "HTTP 418" in caplog.text  # the operator's log keeps the detail
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert attempt_delivery(f"http://127.0.0.1:{port}/", document) == (False, "unreachable")
    settings.TTS_CALLBACK_ALLOW_PRIVATE = False
    assert attempt_delivery(f"http://127.0.0.1:{port}/", document) == (
        None, "address not allowed")


# --- credentials and hosts -------------------------------------------------------------------

@pytest.mark.parametrize("required", [True, False])
def test_two_different_credentials_are_a_400(client, make_key, settings, required):
    settings.TTS_REQUIRE_API_KEY = required
    key_a, raw_a = make_key("a")
    key_b, raw_b = make_key("b")
    key_b.revoked = True
    key_b.save()
    response = client.get(MODELS, HTTP_AUTHORIZATION=f"Bearer {raw_a}", HTTP_X_API_KEY=raw_b)
    assert response.status_code == 400
    assert error_of(response)["code"] == "conflicting_credentials"
    response = client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {raw_a}",
                          HTTP_X_API_KEY="sk-something-else")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "conflicting_credentials"
    # The same key twice is one credential.
    assert client.get(MODELS, HTTP_AUTHORIZATION=f"Bearer {raw_a}",
                      HTTP_X_API_KEY=raw_a).status_code == 200


@pytest.mark.parametrize("path", [MODELS, "/v1/models", HEALTH, "/admin/login/"])
def test_a_disallowed_host_is_a_json_400_logged_once_without_traceback(client, path,
                                                                         settings, caplog):
    settings.ALLOWED_HOSTS = ["tts.example.com"]
    with caplog.at_level(logging.DEBUG):
        response = client.get(path, HTTP_HOST="evil.example.net")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    code = body["error"]["code"] if path.startswith("/v1/") else error_of(response)["code"]
    assert code == "disallowed_host"
    noted = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(noted) == 1, [record.getMessage() for record in noted]
    assert noted[0].levelno == logging.WARNING and noted[0].exc_info is None
    assert "evil.example.net" in noted[0].getMessage()
