"""torch's thread pools, sized once at engine start to the cores this process may really use.

``os.cpu_count()`` counts the host's cores; a container limited by a CPU affinity mask or a
cgroup quota (``docker --cpus``) gets less, and oversubscribing intra-op threads makes every
matrix product slower on a CPU that is already the bottleneck.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_applied: ThreadSettings | None = None


@dataclass(frozen=True)
class ThreadSettings:
    intra_op: int
    inter_op: int
    usable_cpus: int


def cgroup_cpu_limit(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs allowed by a cgroup quota (v2 ``cpu.max``, else v1 ``cpu.cfs_quota_us``); None
    when there is no quota."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return int(quota) / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def usable_cpus() -> int:
    """The cores this process may run on: its affinity mask, capped by a cgroup quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        cpus = min(cpus, max(math.ceil(limit), 1))
    return max(cpus, 1)


def default_interop(cpus: int) -> int:
    """Eager inference barely uses inter-op parallelism; a small pool avoids idle threads
    competing for the cores the intra-op pool needs."""
    return 1 if cpus <= 2 else 2


def configure_threads(intra_op: int = 0, inter_op: int = 0) -> ThreadSettings:
    """Size torch's pools once per process (0 = the default for this machine). torch allows
    setting the inter-op pool only before it is first used; later calls keep what is set."""
    global _applied
    with _lock:
        if _applied is not None:
            return _applied
        cpus = usable_cpus()
        intra = intra_op if intra_op > 0 else cpus
        inter = inter_op if inter_op > 0 else default_interop(cpus)
        torch.set_num_threads(intra)
        try:
            torch.set_num_interop_threads(inter)
        except RuntimeError:  # already used (e.g. by an import that ran torch code)
            inter = torch.get_num_interop_threads()
        _applied = ThreadSettings(torch.get_num_threads(), inter, cpus)
        logger.info("torch threads: %d intra-op, %d inter-op (%d usable CPUs)",
                    _applied.intra_op, _applied.inter_op, cpus)
        return _applied


def lower_this_thread(nice: int) -> int:
    """Raise the calling thread's niceness by ``nice`` (on Linux each thread has its own), so
    that when generation and this thread both want the cores, the scheduler runs generation
    first. Threads and processes started from it afterwards (ffmpeg, Whisper's and its voice
    detector's thread pools, OpenMP workers) inherit it. It is never lowered back: only a
    privileged process may do that. Returns the niceness now in effect (0 where unsupported)."""
    tid = threading.get_native_id()
    try:
        now = os.getpriority(os.PRIO_PROCESS, tid)
        if nice > 0:
            os.setpriority(os.PRIO_PROCESS, tid, min(now + nice, 19))
        return os.getpriority(os.PRIO_PROCESS, tid)
    except (AttributeError, OSError) as exc:  # not Linux, or not permitted
        logger.debug("thread priority unchanged: %s", exc)
        return 0


def current() -> ThreadSettings:
    """What is in effect now (configured or torch's own defaults)."""
    return _applied or ThreadSettings(torch.get_num_threads(), torch.get_num_interop_threads(),
                                      usable_cpus())
