"""A real small filesystem for storage-fault tests: a tmpfs of a few megabytes, mounted for
the test and filled on demand. Needs the right to mount (root, as on the project's machines
and CI); elsewhere the tests that need it are skipped with that reason, never faked."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


class SmallDisk:
    def __init__(self, path: Path):
        self.path = path
        self._filler = path / f".filler-{uuid.uuid4().hex}"

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.path).free

    def fill(self, leave: int = 0) -> None:
        """Take all free space but ``leave`` bytes (a real write, until the disk refuses)."""
        with self._filler.open("ab") as out:
            while self.free_bytes() > leave:
                block = min(self.free_bytes() - leave, 1 << 16)
                try:
                    out.write(b"\0" * max(block, 1))
                    out.flush()
                except OSError:
                    break

    def free(self) -> None:
        """Give the space back."""
        self._filler.unlink(missing_ok=True)


@contextlib.contextmanager
def small_disk(folder: Path, megabytes: int = 4) -> Iterator[SmallDisk]:
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs",
                              str(folder)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()}): the "
                    "full-disk tests need root")
    try:
        yield SmallDisk(folder)
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
