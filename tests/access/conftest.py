import pytest

from tests.api.conftest import (  # noqa: F401  (shared fixtures)
    _database_and_fresh_limits,
    client,
    form,
)


@pytest.fixture
def make_key():
    from tts.access.models import ApiKey

    def make(name: str = "client", **fields) -> tuple[ApiKey, str]:
        return ApiKey.objects.create_key(name=name, **fields)

    return make
