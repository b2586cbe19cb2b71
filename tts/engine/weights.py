"""Turn a checkpoint/vocab/vocoder location into a local path, downloading only when allowed.

``hf://owner/repo/path/in/repo`` is the upstream URI form. A status check looks only at the
local disk and the hub cache (``locate``); loading may download (``fetch``).
"""

from __future__ import annotations

from pathlib import Path

from .errors import ModelUnavailable
from .registry import HUB_PREFIX

VOCOS_REPO = "charactr/vocos-mel-24khz"
VOCOS_FILES = ("config.yaml", "pytorch_model.bin")


def split_hub_uri(uri: str) -> tuple[str, str]:
    owner, repo, filename = uri[len(HUB_PREFIX):].split("/", 2)
    return f"{owner}/{repo}", filename


def _cached_hub_file(repo_id: str, filename: str, cache_dir: str | None) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir)
    return Path(found) if isinstance(found, str) else None


def locate(location: str, *, cache_dir: str | None = None) -> Path | None:
    """The local file for ``location`` if it is on disk now (never touches the network)."""
    if location.startswith(HUB_PREFIX):
        return _cached_hub_file(*split_hub_uri(location), cache_dir)
    path = Path(location).expanduser()
    return path if path.exists() else None


def fetch(location: str, *, allow_downloads: bool, env_hint: str, what: str,
          cache_dir: str | None = None) -> Path:
    """A local path for ``location``; downloads hub files when allowed, else ModelUnavailable."""
    local = locate(location, cache_dir=cache_dir)
    if local is not None:
        return local
    if not location.startswith(HUB_PREFIX):
        raise ModelUnavailable(f"{what} not found at {location}; set {env_hint} to an "
                               "existing file.")
    if not allow_downloads:
        raise ModelUnavailable(
            f"{what} is not in the local cache ({location}) and downloads are disabled "
            f"(HF_HUB_OFFLINE=1); download it on a connected machine, then set {env_hint} "
            "to the local file."
        )
    from huggingface_hub import hf_hub_download

    repo_id, filename = split_hub_uri(location)
    try:
        return Path(hf_hub_download(repo_id, filename, cache_dir=cache_dir))
    except Exception as exc:  # network, auth, missing file: all mean "not available"
        raise ModelUnavailable(
            f"Could not download {what} from {location} ({type(exc).__name__}); check the "
            f"network, or set {env_hint} to a local file.", retry_after=60,
        ) from exc


def missing_reason(location: str, *, allow_downloads: bool, env_hint: str, what: str,
                   cache_dir: str | None = None) -> str | None:
    """Why ``location`` cannot be had without loading, or None when it can."""
    if locate(location, cache_dir=cache_dir) is not None:
        return None
    if location.startswith(HUB_PREFIX):
        if allow_downloads:
            return None  # downloaded on first use
        return (f"{what} not found in the local cache ({location}) and downloads are disabled; "
                f"set {env_hint} to a local file.")
    return f"{what} not found at {location}; set {env_hint} to an existing file."


def vocoder_locations(vocoder_path: str) -> list[str]:
    """The two files a Vocos folder needs, as local paths or hub URIs."""
    if vocoder_path:
        return [str(Path(vocoder_path) / name) for name in VOCOS_FILES]
    return [f"{HUB_PREFIX}{VOCOS_REPO}/{name}" for name in VOCOS_FILES]
