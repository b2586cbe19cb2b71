"""The orphan sweep: files under the media folders that no row names (a process killed
between writing a file and its row, a write that failed on a full disk, a partial file of
tts.storage) and folders left empty, once older than a grace period (a file being written
now has no row yet). Runs with the purge of expired jobs (at start and every
TTS_JOB_PURGE_SECONDS); ``manage.py sweep_orphans --dry-run`` shows what it would remove.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.core.files.storage import default_storage
from django.utils import timezone

from tts.models import Job, Voice
from tts.observability.metrics import ORPHANS_REMOVED

from .jobs.run import JOB_FOLDER
from .voices import VOICE_FOLDER

logger = logging.getLogger(__name__)
GRACE = timedelta(hours=1)


def sweep_orphans(*, dry_run: bool = False, grace: timedelta = GRACE) -> list[str]:
    """Remove (or, dry, list) the orphans older than ``grace``; returns their names, folders
    ending in ``/``."""
    named = _named_files()
    cutoff = timezone.now() - grace
    found = []
    for name in _files(VOICE_FOLDER, JOB_FOLDER):
        if name not in named and _older(name, cutoff):
            found.append(name)
            if not dry_run:
                default_storage.delete(name)  # and its folder, once empty (tts.storage)
    found += _empty_folders(cutoff, dry_run=dry_run)
    if found and not dry_run:
        ORPHANS_REMOVED.inc(len(found))
        logger.warning("removed %d orphaned files and folders under the media root, e.g. %s",
                       len(found), found[0])
    return found


def _named_files() -> set[str]:
    names = set()
    for clip, prepared in Voice.objects.values_list("clip", "prepared"):
        names.update((clip, prepared))
    for ref_audio, result in Job.objects.values_list("ref_audio", "result"):
        names.update((ref_audio, result))
    names.discard("")
    return names


def _files(*folders: str) -> Iterator[str]:
    for folder in folders:
        if not default_storage.exists(folder):
            continue
        subfolders, files = default_storage.listdir(folder)
        for name in files:
            yield f"{folder}/{name}"
        for sub in subfolders:
            yield from _files(f"{folder}/{sub}")


def _older(name: str, cutoff: datetime) -> bool:
    try:
        return default_storage.get_modified_time(name) < cutoff
    except (FileNotFoundError, NotImplementedError):
        return False


def _empty_folders(cutoff: datetime, *, dry_run: bool) -> list[str]:
    """Empty folders of a local media root (object storages have none)."""
    if not hasattr(default_storage, "location"):
        return []
    root = Path(default_storage.location)
    empty = []
    for top in (VOICE_FOLDER, JOB_FOLDER):
        for folder in (root / top).glob("*/"):
            modified = datetime.fromtimestamp(folder.stat().st_mtime, tz=UTC)
            if not any(folder.iterdir()) and modified < cutoff:
                empty.append(f"{top}/{folder.name}/")
                if not dry_run:
                    folder.rmdir()
    return empty
