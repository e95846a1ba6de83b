"""Thread choice: CPU affinity, the cgroup's CPU quota (v2 and v1, fake files), the override, and
OpenMP told to wait passively before torch loads; a bad MLOPS_TRAIN_THREADS fails at start, named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from steps import threads
from steps.errors import EXIT_BAD_SETTING, BadSetting
from steps.threads import OVERRIDE, affinity_cpus, cgroup_cpu_quota, choose_threads, prepare_environment
from workflows.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]


def cgroup(tmp_path: Path, own: str, files: dict[str, str]) -> tuple[Path, Path]:
    """A fake cgroup mount under ``tmp_path/fs`` with ``files``, and a /proc/self/cgroup saying ``own``."""
    root = tmp_path / "fs"
    root.mkdir()
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    proc = tmp_path / "cgroup"
    proc.write_text(own)
    return root, proc


def test_affinity_is_the_cpus_this_process_may_use():
    assert affinity_cpus() == len(os.sched_getaffinity(0))


def test_without_a_quota_every_cpu_of_the_affinity(tmp_path):
    root, proc = cgroup(tmp_path, "0::/\n", {"cpu.max": "max 100000\n"})
    choice = choose_threads(cpus=6, root=root, proc_cgroup=proc)
    assert (choice.threads, choice.source, choice.cgroup_quota_cpus) == (6, "affinity", None)


def test_a_v2_quota_below_the_cpus_lowers_the_count_rounded_up(tmp_path):
    root, proc = cgroup(tmp_path, "0::/\n", {"cpu.max": "150000 100000\n"})
    choice = choose_threads(cpus=8, root=root, proc_cgroup=proc)
    assert (choice.threads, choice.source, choice.cgroup_quota_cpus) == (2, "cgroup quota", 1.5)
    assert choose_threads(cpus=1, root=root, proc_cgroup=proc).source == "affinity"


def test_the_lowest_quota_on_the_way_to_the_root_wins(tmp_path):
    root, proc = cgroup(
        tmp_path,
        "0::/kubepods/pod1/container\n",
        {"kubepods/pod1/cpu.max": "50000 100000", "kubepods/pod1/container/cpu.max": "max 100000"},
    )
    assert cgroup_cpu_quota(root, proc) == 0.5
    assert choose_threads(cpus=16, root=root, proc_cgroup=proc).threads == 1


def test_a_v1_cfs_quota(tmp_path):
    files = {
        "cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "250000\n",
        "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
        "cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
        "cpu,cpuacct/cpu.cfs_period_us": "100000\n",
    }
    root, proc = cgroup(tmp_path, "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n", files)
    assert cgroup_cpu_quota(root, proc) == 2.5
    assert choose_threads(cpus=32, root=root, proc_cgroup=proc).threads == 3


def test_unlimited_or_unreadable_cgroups_mean_no_quota(tmp_path):
    root, proc = cgroup(
        tmp_path, "4:cpu:/\n", {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}
    )
    assert cgroup_cpu_quota(root, proc) is None
    assert cgroup_cpu_quota(tmp_path / "nothing", tmp_path / "no-such-file") is None


def test_the_override_wins(tmp_path):
    root, proc = cgroup(tmp_path, "0::/\n", {"cpu.max": "100000 100000"})
    choice = choose_threads(3, cpus=2, root=root, proc_cgroup=proc)
    assert (choice.threads, choice.source) == (3, OVERRIDE)


def test_openmp_waits_passively_unless_the_environment_says_otherwise(monkeypatch):
    monkeypatch.setattr(threads._State, "loaded_wait_policy", None)
    env: dict[str, str] = {}
    prepare_environment(env)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}
    for given in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "10000"}):
        env = dict(given)
        prepare_environment(env)
        assert env == given
        assert threads.current_wait_policy() == ",".join(f"{k}={v}" for k, v in given.items())


@pytest.mark.parametrize("value", ["0", "two", "-1", "5000"])
def test_a_bad_override_is_a_bad_setting_named(monkeypatch, value):
    monkeypatch.setenv(OVERRIDE, value)
    with pytest.raises(BadSetting, match=OVERRIDE):
        load_settings()


def test_an_empty_override_means_unset(monkeypatch):
    monkeypatch.setenv(OVERRIDE, "")
    assert load_settings().train_threads is None


def test_a_step_with_a_bad_override_exits_78_naming_it(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "steps.train", "--run-dir", str(tmp_path / "run")],
        env={**os.environ, OVERRIDE: "many", "MLOPS_STORAGE_ROOT": str(tmp_path)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == EXIT_BAD_SETTING
    assert OVERRIDE in done.stderr
    assert "Traceback" not in done.stderr


APPLY = """
import json, os, sys
from steps.threads import apply_thread_policy, thread_choice
from workflows.settings import load_settings
assert "torch" not in sys.modules
apply_thread_policy(load_settings())
import torch
print(json.dumps({"choice": thread_choice(), "torch": torch.get_num_threads(),
                  "policy": os.environ.get("OMP_WAIT_POLICY")}))
"""


@pytest.mark.parametrize("override", [None, "1"])
def test_a_plain_process_gets_its_threads_and_passive_waits_before_torch_loads(tmp_path, override):
    env = {k: v for k, v in os.environ.items() if k not in (OVERRIDE, *threads.WAIT_VARIABLES)}
    if override:
        env[OVERRIDE] = override
    done = subprocess.run(
        [sys.executable, "-c", APPLY], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    expected = int(override) if override else choose_threads().threads
    assert seen["choice"]["threads"] == seen["torch"] == expected
    assert seen["choice"]["source"] == (OVERRIDE if override else choose_threads().source)
    assert seen["policy"] == "PASSIVE"
    assert seen["choice"]["wait_policy"] == "OMP_WAIT_POLICY=PASSIVE"
