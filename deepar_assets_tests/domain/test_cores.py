"""Trial workers follow the cores a container may use, not the node's."""

import os

from deepar_assets.domain import cores


def test_a_cgroup_v2_quota_caps_the_cores_rounded_up(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")
    assert cores.quota_cores(cpu_max, (tmp_path / "none", tmp_path / "none")) == 2
    cpu_max.write_text("max 100000\n")
    assert cores.quota_cores(cpu_max, (tmp_path / "none", tmp_path / "none")) is None


def test_a_cgroup_v1_quota_caps_the_cores_and_minus_one_means_none(tmp_path):
    quota, period = tmp_path / "cfs_quota_us", tmp_path / "cfs_period_us"
    period.write_text("100000\n")
    quota.write_text("400000\n")
    assert cores.quota_cores(tmp_path / "no-v2", (quota, period)) == 4
    quota.write_text("-1\n")
    assert cores.quota_cores(tmp_path / "no-v2", (quota, period)) is None


def test_without_a_readable_quota_there_is_no_cap(tmp_path):
    (tmp_path / "cpu.max").write_text("garbage\n")
    assert cores.quota_cores(tmp_path / "cpu.max", (tmp_path / "a", tmp_path / "b")) is None
    assert cores.quota_cores(tmp_path / "absent", (tmp_path / "a", tmp_path / "b")) is None


def test_available_cores_is_the_affinity_capped_by_the_quota(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5, 6, 7})
    monkeypatch.setattr(cores, "quota_cores", lambda: 2)
    assert cores.available_cores() == 2
    monkeypatch.setattr(cores, "quota_cores", lambda: None)
    assert cores.available_cores() == 8
