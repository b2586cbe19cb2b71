"""The persisted compile cache: torch's Inductor/FX graph caches in a folder of the data
directory per configuration, so that only the first start of a configuration compiles.

A configuration is what the compiled code depends on: the torch version (and Python's), the
model's architecture and its config (the graphs' shapes; two models of one architecture share
a cache, since weights are inputs of the graphs, not part of them), the precision, the device
and the CPU's instruction-set flags (Inductor generates C++ for the vector units it finds).
Each has a folder ``<root>/<architecture>-<config digest>-<precision>-<device>-<digest>/`` in
which torch's caches live (``TORCHINDUCTOR_CACHE_DIR`` points there while a model compiles)
beside ``manifest.json``: the key's fields and, once a compile has finished, the size and
SHA-256 of every file the compile left there.

* **warm**: the manifest is complete and every file it lists is there unchanged;
* **cold**: nothing was ever compiled for this model's architecture, config, precision and
  device here;
* **stale**: anything else: the folder of another torch version, Python or CPU for the same
  model (an upgrade, a moved volume), a manifest of another key or unreadable, a file missing
  or changed, files without a finished manifest (a compile that was killed). A stale cache is
  deleted with a warning and compiled again from nothing; it never stops a model from loading.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import os
import platform
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import precision as precision_module

logger = logging.getLogger(__name__)

#: Bump when the folder layout or the manifest changes: every older folder becomes stale.
FORMAT = 1
MANIFEST = "manifest.json"
WARM, COLD, STALE = "warm", "cold", "stale"
#: CPU flags that decide which code Inductor (and oneDNN) generate: vector and matrix units.
ISA_FLAG = re.compile(r"^(avx|amx|sse|ssse|fma|f16c|vnni|bmi|asimd|sve|neon|fp16|bf16|i8mm)")
#: Lock files and temporaries that torch writes beside its caches: not part of the content.
VOLATILE = re.compile(r"(\.lock$|^tmp|\.tmp$|\.partial$)")

_env_lock = threading.RLock()  # one compile at a time points torch's cache folder somewhere


def isa_flags(flags: frozenset[str]) -> list[str]:
    """The instruction-set flags among a CPU's flags, sorted."""
    return sorted(flag for flag in flags if ISA_FLAG.match(flag))


@dataclass(frozen=True)
class CacheKey:
    """What a compiled graph depends on; ``digest`` names its folder."""

    architecture: str
    config: dict[str, Any] = field(hash=False)
    precision: str
    device: str
    cpu_flags: tuple[str, ...]
    torch_version: str
    python_version: str = field(default_factory=platform.python_version)
    format: int = FORMAT

    def fields(self) -> dict[str, Any]:
        return {"format": self.format, "torch": self.torch_version,
                "python": self.python_version, "architecture": self.architecture,
                "config": self.config, "precision": self.precision, "device": self.device,
                "cpu_flags": list(self.cpu_flags)}

    @property
    def digest(self) -> str:
        text = json.dumps(self.fields(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def family(self) -> str:
        """The folder name's prefix shared by every key of this model, precision and device
        (whatever the torch version, Python or CPU): an older folder of the family is stale."""
        device = re.sub(r"[^A-Za-z0-9]+", "", self.device)
        config = hashlib.sha256(json.dumps(self.config, sort_keys=True, default=str).encode())
        return f"{self.architecture}-{config.hexdigest()[:8]}-{self.precision}-{device}-"

    @property
    def folder_name(self) -> str:
        return f"{self.family}{self.digest}"


def cache_key(*, architecture: str, config: dict[str, Any], precision: str, device: str,
              flags: frozenset[str] | None = None, torch_version: str | None = None
              ) -> CacheKey:
    """The key of a model's compiled code here. ``flags`` default to this CPU's
    (tts.engine.precision.cpu_flags, the one function that reads them); CPU flags only count
    for CPU code."""
    if flags is None:
        flags = precision_module.cpu_flags()  # read at call time: tests override it
    if torch_version is None:
        import torch

        torch_version = torch.__version__
    on_cpu = device == "cpu"
    return CacheKey(architecture=architecture, config=dict(config), precision=precision,
                    device=device, cpu_flags=tuple(isa_flags(flags)) if on_cpu else (),
                    torch_version=torch_version)


class CompileCache:
    """The folders of one root (``TTS_COMPILE_CACHE_DIR``)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def folder(self, key: CacheKey) -> Path:
        return self.root / key.folder_name

    def state(self, key: CacheKey) -> tuple[str, str]:
        """(warm | cold | stale, why)."""
        folder = self.folder(key)
        if not folder.is_dir() or not any(folder.iterdir()):
            older = self._older(key)
            if older:
                return STALE, f"made for another configuration ({older})"
            return COLD, "nothing compiled for this model, precision and device yet"
        manifest_path = folder / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            fields, files = manifest["key"], manifest["files"]
            if not isinstance(files, dict):
                raise TypeError("files is not an object")
        except FileNotFoundError:
            return STALE, "files without a finished manifest (a compile that did not finish)"
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return STALE, f"unreadable manifest ({type(exc).__name__}: {exc})"
        if fields != json.loads(json.dumps(key.fields(), default=str)):
            return STALE, "its manifest names another configuration"
        for name, (size, digest) in files.items():
            path = folder / name
            try:
                if path.stat().st_size != size or _sha256(path) != digest:
                    return STALE, f"{name} has changed since it was written"
            except OSError:
                return STALE, f"{name} is missing"
        if not files:
            return STALE, "its manifest lists no compiled files"
        return WARM, f"{len(files)} files, written {manifest.get('written', '?')}"

    def _siblings(self, key: CacheKey) -> list[Path]:
        """Folders of the same model, precision and device made for other keys."""
        if not self.root.is_dir():
            return []
        return [path for path in self.root.glob(f"{glob.escape(key.family)}*")
                if path.is_dir() and path.name != key.folder_name]

    def _older(self, key: CacheKey) -> str:
        """What differs between ``key`` and the newest older folder of its family, or ""."""
        for path in sorted(self._siblings(key), key=lambda p: p.stat().st_mtime, reverse=True):
            try:
                old = json.loads((path / MANIFEST).read_text(encoding="utf-8"))["key"]
            except (OSError, ValueError, KeyError, TypeError):
                return f"{path.name}, without a readable manifest"
            new = json.loads(json.dumps(key.fields(), default=str))
            changed = [f"{name} {old.get(name)} -> {value}" if name != "cpu_flags"
                       else "the CPU's flags" for name, value in new.items()
                       if old.get(name) != value]
            return ", ".join(changed) or path.name
        return ""

    def prepare(self, key: CacheKey, *, model_id: str = "") -> str:
        """The folder made ready for a compile: a stale one (and this model's folders made
        for other configurations) deleted with a warning. Returns the state it was found in
        (warm, cold or stale)."""
        state, why = self.state(key)
        if state == STALE:
            self.discard(key, why, model_id=model_id)
        return state

    def discard(self, key: CacheKey, why: str, *, model_id: str = "") -> None:
        folder = self.folder(key)
        logger.warning("%s: the compile cache %s is stale or corrupt (%s); deleting it and "
                       "compiling again", model_id or key.architecture, folder, why)
        for path in [folder, *self._siblings(key)]:
            shutil.rmtree(path, ignore_errors=True)

    @contextlib.contextmanager
    def active(self, key: CacheKey) -> Iterator[Path]:
        """Torch's caches point at the key's folder while this is entered (one at a time)."""
        folder = self.folder(key)
        with _env_lock:
            folder.mkdir(parents=True, exist_ok=True)
            saved = {name: os.environ.get(name)
                     for name in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")}
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)
            os.environ["TRITON_CACHE_DIR"] = str(folder / "triton")
            try:
                yield folder
            finally:
                for name, value in saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value

    def seal(self, key: CacheKey, *, seconds: float) -> int:
        """Record what the compile left in the folder (so the next start can check it), written
        atomically. Returns the number of files."""
        folder = self.folder(key)
        files = {}
        for path in sorted(folder.rglob("*")):
            name = path.relative_to(folder).as_posix()
            if path.is_file() and name != MANIFEST and not VOLATILE.search(path.name):
                files[name] = [path.stat().st_size, _sha256(path)]
        manifest = {"key": key.fields(), "files": files, "compile_seconds": round(seconds, 1),
                    "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        partial = folder / f".{MANIFEST}.{os.getpid()}.partial"
        partial.write_text(json.dumps(manifest, indent=1, default=str), encoding="utf-8")
        partial.replace(folder / MANIFEST)
        return len(files)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
