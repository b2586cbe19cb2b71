"""Free space where this server keeps its state: the data folder (the SQLite database, the
secret key) and the media folder (voices' and jobs' files). Readiness turns 503 below
TTS_MIN_FREE_MB, so a load balancer stops sending work before writes start failing."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection


def storage_locations() -> dict[str, Path]:
    """The local folders to watch: ``data`` (the SQLite database's, else the var folder) and
    ``media`` (unless files live in an object storage)."""
    database = settings.DATABASES["default"]
    data = (Path(database["NAME"]).parent if connection.vendor == "sqlite"
            else Path(settings.TTS_VAR_DIR))
    places = {"data": data}
    if hasattr(default_storage, "location"):  # a local folder, not S3 & co
        places["media"] = Path(default_storage.location)
    return places


def storage_report() -> dict[str, dict]:
    """Each location's path and free and total megabytes (null when it cannot be read)."""
    report = {}
    for name, folder in storage_locations().items():
        usage = _usage(folder)
        report[name] = {"path": str(folder),
                        "free_mb": round(usage.free / 2**20, 1) if usage else None,
                        "total_mb": round(usage.total / 2**20, 1) if usage else None}
    return report


def low_space_reason() -> str | None:
    """Why this server should take no work now (too little free space), or None."""
    minimum = settings.TTS_MIN_FREE_MB
    if not minimum:
        return None
    for name, place in storage_report().items():
        if place["free_mb"] is not None and place["free_mb"] < minimum:
            return (f"Only {place['free_mb']:g} MB free for the {name} folder "
                    f"({place['path']}); TTS_MIN_FREE_MB is {minimum:g}. Free space there "
                    "(old voices, expired jobs, logs) or give it a bigger disk.")
    return None


def _usage(folder: Path):
    """disk_usage of ``folder`` or of its nearest existing parent (not made yet: the disk
    it will be on)."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate)
            except OSError:
                return None
    return None
