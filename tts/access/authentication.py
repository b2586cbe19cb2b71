"""API-key authentication for DRF views (native API and the OpenAI-compatible /v1 alike).

A key arrives as ``Authorization: Bearer <key>`` (what the OpenAI SDK sends), ``X-API-Key:
<key>`` or ``Authorization: Api-Key <key>``. A key of ours that is sent is always checked, even
when keys are optional, so a typo in its secret never passes silently; while keys are optional,
a token that is no key of ours (the placeholder an OpenAI SDK user passes) is ignored. With
TTS_REQUIRE_API_KEY every view that keeps the default permission needs one; health, readiness
and the docs opt out.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from tts.observability.request_ids import bind_key_id
from tts.work.voices import Tenant

from .models import ApiKey

SCHEMES = ("bearer", "api-key")
HOW = "send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`"


class KeyHolder:
    """``request.user`` for a request made with a key (``request.auth`` is the ApiKey)."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ApiKey):
        self.key = key

    def __str__(self) -> str:
        return f"api-key:{self.key.prefix}"


def request_key(request) -> ApiKey | None:
    """The API key this request was authenticated with, if any."""
    key = getattr(request, "auth", None)
    return key if isinstance(key, ApiKey) else None


def key_from_request(request) -> str | None:
    """The key the client sent, or None. Two different keys in one request (a Bearer token
    and another X-API-Key) are a 400: the server never guesses which one was meant."""
    sent = _sent_keys(request)
    if len(set(sent)) > 1:
        raise exceptions.ParseError(
            "This request carries two different credentials (Authorization and X-API-Key); "
            "send one key only.", code="conflicting_credentials")
    return sent[0] if sent else None


def _sent_keys(request) -> list[str]:
    sent = []
    header = get_authorization_header(request).decode("latin-1").strip()
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() in SCHEMES and value.strip():
            sent.append(value.strip())
    value = request.META.get("HTTP_X_API_KEY", "").strip()
    if value:
        sent.append(value)
    return sent


def is_admin_caller(request) -> bool:
    """Whether this request comes from an operator: a valid admin key (``apikeys create
    --admin``) or a staff user signed in to /admin/. Never raises: views open to everyone
    (health, readiness) use it to decide how much to show."""
    key = request_key(request)
    if key is None:
        try:
            raw = key_from_request(request)
            key = check_key(raw) if raw else None
        except exceptions.APIException:
            key = None
    if key is not None and key.is_admin:
        return True
    user = getattr(getattr(request, "_request", request), "user", None)
    return bool(getattr(user, "is_staff", False) and getattr(user, "is_active", False))


def issued_prefix(raw: str) -> bool:
    """Whether ``raw`` starts with the public prefix of a key issued here."""
    prefix, dot, _ = raw.partition(".")
    return bool(dot) and ApiKey.objects.filter(prefix=prefix).exists()


def check_key(raw: str) -> ApiKey:
    """The ApiKey for ``raw``, or AuthenticationFailed saying why (unknown, revoked, expired)."""
    prefix, dot, _ = raw.partition(".")
    key = ApiKey.objects.filter(prefix=prefix).first() if dot else None
    if key is None or not key.is_valid(raw):
        raise exceptions.AuthenticationFailed(f"This API key is not valid; {HOW}, exactly as "
                                              "it was issued.", code="invalid_api_key")
    if key.revoked:
        raise exceptions.AuthenticationFailed("This API key was revoked; ask the operator for "
                                              "a new one.", code="api_key_revoked")
    if key.has_expired:
        raise exceptions.AuthenticationFailed("This API key has expired; ask the operator for "
                                              "a new one.", code="api_key_expired")
    return key


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        raw = key_from_request(request)
        if raw is None:
            return None
        if not settings.TTS_REQUIRE_API_KEY and not issued_prefix(raw):
            # Keys optional and this is not one of ours (the OpenAI SDK always sends some
            # api_key): anonymous. A key of ours with a wrong secret is still refused.
            return None
        key = check_key(raw)
        bind_key_id(key.prefix)  # log lines of this request name the key (never the secret)
        return KeyHolder(key), key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) with a WWW-Authenticate challenge.
        return 'Bearer realm="api"'


class ApiKeyRequired(BasePermission):
    """Everything but health and docs, when TTS_REQUIRE_API_KEY is on."""

    def has_permission(self, request, view) -> bool:
        if not settings.TTS_REQUIRE_API_KEY or isinstance(request.auth, ApiKey):
            return True
        raise exceptions.NotAuthenticated(f"This server requires an API key; {HOW}.",
                                          code="api_key_required")


def tenant_of(request) -> Tenant:
    """Whose voices this request may see and change: its key's (an admin key: everyone's);
    without a key, the unowned ones (keys off: every voice, as before keys existed)."""
    key = request_key(request)
    if key is None:
        return Tenant()
    return Tenant(owner=key.prefix, admin=key.is_admin)
