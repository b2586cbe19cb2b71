"""The default storage of saved voices' and jobs' files: Django's FileSystemStorage, made
atomic.

A file is written under a temporary name in its own folder, flushed to disk, and only then
linked under its real name, so a crash or a full disk never leaves a torn file that a row
names: the real name holds the whole file or does not exist. Leftover temporary files (a
process killed mid-write) start with ``.partial-`` and are removed by the orphan sweep
(tts.work.orphans). Deleting a file also removes the folders it leaves empty.

Object storages (S3 through django-storages) are atomic per object already; rows are written
after their files there too.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.files import File
from django.core.files.storage import FileSystemStorage

PARTIAL_PREFIX = ".partial-"


class AtomicFileSystemStorage(FileSystemStorage):
    def _save(self, name: str, content: File) -> str:
        target = Path(self.path(name))
        handle, partial = _open_partial(target.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in content.chunks():
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            while True:
                try:  # a link never replaces a file another writer put there meanwhile
                    os.link(partial, target)
                    break
                except FileExistsError:
                    name = self.get_available_name(name)
                    target = Path(self.path(name))
            _sync_folder(target.parent)
        except BaseException:
            os.unlink(partial)
            self._prune(target.parent)  # the folders made for it, if it was their only file
            raise
        os.unlink(partial)
        if self.file_permissions_mode is not None:
            os.chmod(target, self.file_permissions_mode)
        return str(name).replace("\\", "/")

    def delete(self, name: str) -> None:
        super().delete(name)
        self._prune(Path(self.path(name)).parent)

    def _prune(self, folder: Path) -> None:
        """Remove ``folder`` and its parents below the root while they are empty."""
        root = Path(self.location)
        while folder != root and root in folder.parents:
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break
            folder = folder.parent


def _open_partial(folder: Path) -> tuple[int, Path]:
    """A new file under a temporary name in ``folder`` (made if missing), with the permissions
    a plain write would give it (0666 less the umask)."""
    for _ in range(3):  # a sweep may remove the folder between mkdir and open: again
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"{PARTIAL_PREFIX}{secrets.token_hex(8)}"
        try:
            return os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), partial
        except FileNotFoundError:
            continue
    raise FileNotFoundError(f"{folder} keeps disappearing")


def _sync_folder(folder: Path) -> None:
    """Make the new name itself durable (a rename or link lives in the folder's entry)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
