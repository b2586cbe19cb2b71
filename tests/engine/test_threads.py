"""torch's thread pools follow the CPUs the process may use (affinity and cgroup quota)."""

import os

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
