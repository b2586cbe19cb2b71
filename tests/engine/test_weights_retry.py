"""Retry-After only where a retry can help: a failed download, not a missing file."""

import pytest

from tts.engine.errors import ModelUnavailable
from tts.engine.weights import fetch


@pytest.mark.parametrize("location, allow, retry", [
    ("/nonexistent/model.safetensors", True, None),      # the operator must provide it
    ("hf://owner/repo/model.safetensors", False, None),  # downloads disabled
    ("hf://owner/repo/model.safetensors", True, 60),     # the hub did not answer (offline)
])
def test_only_failed_downloads_say_when_to_retry(location, allow, retry, tmp_path, no_network):
    with pytest.raises(ModelUnavailable) as caught:
        fetch(location, allow_downloads=allow, env_hint="TTS_F5_CKPT", what="checkpoint",
              cache_dir=str(tmp_path))
    assert caught.value.retry_after == retry
