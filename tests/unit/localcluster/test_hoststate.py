"""Host snapshots say exactly what changed, and survive a trip through the crash-recovery record."""

from __future__ import annotations

from pathlib import Path

import pytest

from hack.localcluster import hoststate
from hack.localcluster.hoststate import HostState


def _state(**changes: object) -> HostState:
    fields: dict[str, object] = {
        "iptables": {"iptables filter": ("-P INPUT ACCEPT",)},
        "links": ("lo loopback master=-", "eth0 ether master=-"),
        "routes": ("default via 192.0.2.1 dev eth0",),
        "mounts": (),
        "cgroups": ("cpu/user.slice",),
        "sysctls": {"kernel/panic": "1"},
        "paths": (),
    }
    fields.update(changes)
    return HostState(**fields)  # type: ignore[arg-type]


def test_an_unchanged_host_has_no_differences() -> None:
    assert _state().differences(_state()) == []


def test_each_added_or_removed_entry_and_changed_sysctl_is_one_line() -> None:
    after = _state(
        iptables={"iptables filter": ("-P INPUT ACCEPT", "-N KUBE-FIREWALL")},
        links=("lo loopback master=-",),
        cgroups=("cpu/user.slice", "cpu/kubepods"),
        sysctls={"kernel/panic": "10"},
    )

    assert _state().differences(after) == [
        "iptables filter: + -N KUBE-FIREWALL",
        "link: - eth0 ether master=-",
        "cgroup: + cpu/kubepods",
        "sysctl kernel.panic: 1 -> 10",
    ]


def test_a_snapshot_read_back_from_json_equals_the_original() -> None:
    state = _state(mounts=("/tmp/llmkube-cluster-x/node/shm tmpfs",))

    assert HostState.from_json(state.to_json()) == state


def test_cgroups_of_an_image_build_next_door_are_not_the_nodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cpu = tmp_path / "cpu"
    for name in ("kubepods", "buildah-buildah3796248171", "user.slice"):
        (cpu / name).mkdir(parents=True)
    monkeypatch.setattr(hoststate, "cgroup_hierarchies", lambda: [cpu])

    assert sorted(hoststate._cgroups()) == ["cpu/kubepods", "cpu/user.slice"]
