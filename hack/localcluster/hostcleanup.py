"""Putting the machine back as a real node found it, after a clean stop or a crashed run alike.

Everything here finds what to remove by the node's own names (its links, its CNI network, the KUBE-* chains only
a kubelet and kube-proxy create, `kubepods` cgroups, mounts under a cluster's state dir) and, where one is given,
by comparison with the snapshot taken before the node started. It runs only while the machine-wide real-node lock
is held, so whatever carries those names belongs to a node of this machine that is no longer running.

Order matters: container processes die first (they hold mounts and network namespaces), then the mounts go
(which frees the namespaces, and with them the pods' veth ends), then links, iptables, cgroups, sysctls, files.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from hack.localcluster import hoststate
from hack.localcluster.hoststate import IPTABLES, IPTABLES_TABLES, HostState
from hack.localcluster.nodeconfig import BRIDGE, CNI_NETWORK, NODE_LINK, POD_SUBNET

#: The node's programs; a process running one of these from the node's binary directory is the node's.
NODE_PROGRAMS = ("kubelet", "kube-proxy", "coredns", "containerd", "containerd-shim-runc-v2")
#: A route that keeps traffic to pod addresses no real pod has (kwok's fake pods) on this machine.
POD_CIDR_ROUTE = ("unreachable", "10.244.0.0/16")
_SHARED_CNI_CHAIN = "CNI-HOSTPORT-"
_MNT_DETACH = 2
_GONE_SECONDS = 10.0


def restore_host(*, baseline: HostState | None, bin_dir: Path, state_dirs: Iterable[Path] = ()) -> None:
    """Removes every trace of a real node; with a baseline, also restores the sysctls and files it records."""
    kill_node_processes(bin_dir)
    unmount_node_mounts()
    delete_node_links()
    delete_node_routes()
    clean_iptables(baseline)
    remove_kubepods_cgroups()
    if baseline is not None:
        restore_sysctls(baseline)
        clean_watched_paths(baseline)
    for state_dir in state_dirs:
        shutil.rmtree(state_dir, ignore_errors=True)


# -- processes -------------------------------------------------------------------------------------------


def kill_node_processes(bin_dir: Path) -> None:
    """SIGKILLs the containers (every process in a kubepods cgroup), then the node's own programs.

    The runc shims are the reason this exists even after a clean stop: containerd starts each in a session of
    its own, so stopping containerd's process group leaves them, and their containers, running.
    """
    programs = {str(bin_dir / name) for name in NODE_PROGRAMS}
    for attempt in range(3):
        containers = _kubepods_pids()
        programs_running = [pid for pid in _all_pids() if _exe(pid) in programs]
        victims = containers + programs_running
        if not victims:
            return
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + _GONE_SECONDS
        while any(_alive(pid) for pid in victims) and time.monotonic() < deadline:
            time.sleep(0.05)
        if attempt == 2:
            return


def _kubepods_pids() -> list[int]:
    pids: set[int] = set()
    for hierarchy in hoststate.cgroup_hierarchies():
        for top in hierarchy.glob("kubepods*"):
            for directory, _dirs, files in os.walk(top):
                if "cgroup.procs" in files:
                    with contextlib.suppress(OSError):
                        text = (Path(directory) / "cgroup.procs").read_text()
                        pids.update(int(pid) for pid in text.split())
    pids.discard(os.getpid())
    return sorted(pids)


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


# -- mounts, links, routes -------------------------------------------------------------------------------


def unmount_node_mounts() -> None:
    """Detaches every mount under a cluster state dir or a netns dir, innermost first, until none is left."""
    libc = ctypes.CDLL(None, use_errno=True)
    for _ in range(10):
        mounts = hoststate.mounts_in_scope()
        if not mounts:
            return
        for point, _fstype in reversed(mounts):
            libc.umount2(point.encode(), _MNT_DETACH)


def delete_node_links() -> None:
    veths = _links(["master", BRIDGE]) if _link_exists(BRIDGE) else []
    for name in [*veths, BRIDGE, NODE_LINK]:
        if _link_exists(name):
            subprocess.run(["ip", "link", "del", name], check=False, capture_output=True)


def delete_node_routes() -> None:
    kind, prefix = POD_CIDR_ROUTE
    subprocess.run(["ip", "route", "del", kind, prefix], check=False, capture_output=True)


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def _links(selector: list[str]) -> list[str]:
    result = subprocess.run(
        ["ip", "-j", "link", "show", *selector], capture_output=True, text=True, check=False
    )
    if result.returncode != 0 or not result.stdout.strip():
        return []
    return [str(link["ifname"]) for link in json.loads(result.stdout)]


# -- iptables --------------------------------------------------------------------------------------------


def clean_iptables(baseline: HostState | None) -> None:
    for binary in IPTABLES:
        for table in IPTABLES_TABLES:
            base = set(baseline.iptables.get(f"{binary} {table}", ())) if baseline else set()
            for command in iptables_cleanup_commands(hoststate.iptables_rules(binary, table), base):
                subprocess.run([binary, "-w", "-t", table, *command], check=False, capture_output=True)


def iptables_cleanup_commands(lines: list[str], baseline: set[str]) -> list[list[str]]:
    """The iptables arguments that remove a node's chains and rules from one table's `-S` listing.

    Chains the node created (KUBE-*, and CNI-* chains not in the baseline) are flushed and deleted; rules it
    added to other chains (jumps to those chains, the bridge plugin's masquerading for the pod subnet) are
    deleted one by one. The portmap plugin's CNI-HOSTPORT-* chains are shared by every CNI network on the
    machine, so only the node's rules leave them, and the chain itself only if that left it empty.
    """
    new_chains = {line.split()[1] for line in lines if line.startswith("-N ") and line not in baseline}
    dropped = {
        chain
        for chain in new_chains
        if chain.startswith("KUBE-") or (chain.startswith("CNI-") and not chain.startswith(_SHARED_CNI_CHAIN))
    }
    commands: list[list[str]] = []
    remaining: dict[str, int] = {}
    for line in lines:
        if not line.startswith("-A "):
            continue
        chain = line.split()[1]
        if chain in dropped:
            continue
        if line not in baseline and _is_node_rule(line, dropped):
            commands.append(["-D", *shlex.split(line)[1:]])
        else:
            remaining[chain] = remaining.get(chain, 0) + 1
    commands += [["-F", chain] for chain in sorted(dropped)]
    commands += [["-X", chain] for chain in sorted(dropped)]
    for chain in sorted(new_chains - dropped):
        if chain.startswith(_SHARED_CNI_CHAIN) and not remaining.get(chain):
            commands.append(["-X", chain])
    return commands


def _is_node_rule(line: str, dropped: set[str]) -> bool:
    words = set(line.split())
    if words & dropped or "KUBE-" in line:
        return True
    return any(marker in line for marker in (f'\\"{CNI_NETWORK}\\"', POD_SUBNET, BRIDGE))


# -- cgroups, sysctls, files -----------------------------------------------------------------------------


def remove_kubepods_cgroups() -> None:
    """Removes the kubelet's cgroup trees in every hierarchy, leaves first (a cgroup goes once it is empty)."""
    for _ in range(20):
        tops = [top for hierarchy in hoststate.cgroup_hierarchies() for top in hierarchy.glob("kubepods*")]
        if not tops:
            return
        for top in tops:
            for directory, _dirs, _files in os.walk(top, topdown=False):
                with contextlib.suppress(OSError):
                    os.rmdir(directory)
        time.sleep(0.1)


def restore_sysctls(baseline: HostState) -> None:
    current = hoststate.read_sysctls(baseline.sysctls)
    for name, value in baseline.sysctls.items():
        if current.get(name) != value:
            with contextlib.suppress(OSError):
                (Path("/proc/sys") / name).write_text(value)


def clean_watched_paths(baseline: HostState) -> None:
    """Removes the watched directories the node created, and the node's entries in those that existed."""
    before = set(baseline.paths)
    for root in map(Path, hoststate.WATCHED_PATHS):
        if not root.exists() or root.is_symlink():
            continue
        if str(root) not in before:
            shutil.rmtree(root, ignore_errors=True)
            continue
        for path in _node_entries(root):
            if str(path) not in before:
                with contextlib.suppress(OSError):
                    path.unlink()


def _node_entries(root: Path) -> list[Path]:
    """The node's files in a shared directory: its CNI results and the kubelet's container log links."""
    results = root / "results"
    found = list(results.glob(f"{CNI_NETWORK}-*")) if results.is_dir() else []
    for link in root.iterdir():
        if link.is_symlink() and os.readlink(link).startswith(hoststate.STATE_DIR_PREFIX):
            found.append(link)
    return found
