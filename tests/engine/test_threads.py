"""torch's thread pools follow the CPUs the process may use (affinity and cgroup quota)."""

import os
import threading

import torch

from tts.engine import threads


def test_cgroup_v2_quota(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert threads.cgroup_cpu_limit(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert threads.cgroup_cpu_limit(tmp_path) is None


def test_cgroup_v1_quota(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert threads.cgroup_cpu_limit(tmp_path) == 3.0
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert threads.cgroup_cpu_limit(tmp_path) is None
    assert threads.cgroup_cpu_limit(tmp_path / "absent") is None


def test_usable_cpus_is_the_affinity_capped_by_the_quota(monkeypatch):
    affinity = len(os.sched_getaffinity(0))
    monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda: None)
    assert threads.usable_cpus() == affinity
    monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda: 0.5)
    assert threads.usable_cpus() == 1  # a fraction of a core still gets one thread
    monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda: affinity + 8.0)
    assert threads.usable_cpus() == affinity


def test_configured_once_and_in_effect(tiny_engine):
    applied = tiny_engine.threads  # the engine configured the pools when it started
    assert applied == threads.configure_threads(intra_op=99)  # later calls change nothing
    assert applied.intra_op == torch.get_num_threads()
    assert applied.inter_op == torch.get_num_interop_threads()
    assert applied == threads.current()


def test_references_are_prepared_at_a_lower_priority(tiny_dir, ref_bytes, monkeypatch):
    """Decoding (and speech recognition) run in threads niced by TTS_PREPARATION_NICE, so a
    generation on the same cores goes first; the caller's own priority is untouched."""
    from tests.support.audio import REF_TEXT
    from tests.support.helpers import tiny_config
    from tts.engine import audio
    from tts.engine.engine import TTSEngine

    seen = []
    decode = audio.decode

    def spying_decode(*args, **kwargs):
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return decode(*args, **kwargs)

    monkeypatch.setattr(audio, "decode", spying_decode)
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    engine = TTSEngine(tiny_config(tiny_dir, preparation_nice=5))
    ref, cached = engine.prepare_reference(ref_bytes, REF_TEXT)
    assert not cached and ref.samples.size
    assert seen == [min(mine + 5, 19)]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine


def test_lower_this_thread_changes_only_that_thread():
    result = {}

    def work():
        result["nice"] = threads.lower_this_thread(3)

    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert result["nice"] == min(mine + 3, 19)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine
