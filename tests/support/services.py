"""Redis and PostgreSQL for the scale-out tests: found on their usual local ports, else the
tests skip saying what is missing. CI (CI=true) must have them: there a missing service
fails the run instead of silently skipping the scale-out tests."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

import pytest

REDIS_URL = os.environ.get("TTS_TEST_REDIS_URL", "redis://127.0.0.1:6379")
POSTGRES_URL = os.environ.get("TTS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
CLAIM_KEY = "tts:test:claimed"


def missing(service: str, why: Exception) -> None:
    message = (f"{service} is not reachable ({why}); the scale-out tests need it "
               "(docs/development.md says how to install it).")
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextlib.contextmanager
def redis_database() -> Iterator[str]:
    """The URL of an empty Redis database of this test run's own (other runs on the same
    server use other numbers), emptied afterwards."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        missing("Redis", exc)
    token = secrets.token_hex(8)
    for number in range(1, 16):
        client = redis.Redis.from_url(f"{REDIS_URL}/{number}")
        if client.dbsize() == 0 and client.set(CLAIM_KEY, token, nx=True, ex=3600):
            try:
                yield f"{REDIS_URL}/{number}"
            finally:
                client.flushdb()
            return
    pytest.skip("every Redis database on the test server is in use")


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"tts_test_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        missing("PostgreSQL", exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{POSTGRES_URL}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
