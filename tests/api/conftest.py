import pytest
from rest_framework.test import APIClient

from tests.support.audio import REF_TEXT
from tests.support.helpers import device_held


@pytest.fixture(autouse=True)
def _database_and_fresh_limits(db):
    """Views read API keys and write audit entries; rate-limit counters start empty."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def client() -> APIClient:
    # 5xx responses send got_request_exception (for error trackers); see the response instead.
    return APIClient(raise_request_exception=False)


@pytest.fixture
def form(ref_wav):
    """A valid multipart body (fresh file handle per test)."""
    def make(**fields):
        body = {"ref_audio": ref_wav.open("rb"), "ref_text": REF_TEXT,
                "gen_text": "Hello from the tests.", "nfe_step": 4, "seed": 1}
        body.update(fields)
        return {key: value for key, value in body.items() if value is not None}
    return make


@pytest.fixture
def busy_device(settings):
    """Another generation holds the device and nobody may queue behind it."""

    from tests.support.helpers import reset_engine
    from tts.work.runtime import get_engine

    settings.TTS_MAX_QUEUE = 0
    reset_engine()
    engine = get_engine()
    with device_held(engine):
        yield engine
