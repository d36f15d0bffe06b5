"""A snapshot of the machine-wide state a real node can change, to prove teardown put everything back.

A kubelet, kube-proxy, containerd and the CNI plugins change state that belongs to the whole machine: iptables
chains and rules (both families, every table), network links and routes, mounts, cgroups at the root of each v1
hierarchy, sysctls, and a few well-known directories (/run/containerd, /var/lib/cni, /var/log/containers).
`take_snapshot()` reads all of it; `differences()` says, line by line, what is not as it was.

The machine is shared: podman's own CNI network (bridge `cni-podman0`, network name `podman`) and buildah's
per-build cgroups may change state at any moment for reasons of their own. Entries attributable to them are
left out of the snapshot, so a build next door never reads as a leak. Mounts are read only where the node mounts (its state dirs and the netns dirs),
since image builds mount and unmount overlays elsewhere all the time.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from hack.localcluster.machinelock import IMAGE_STORE

IPTABLES = ("iptables", "ip6tables")
IPTABLES_TABLES = ("filter", "nat", "mangle", "raw", "security")
#: The state dirs of every local cluster: a node's mounts all live under its cluster's state dir.
STATE_DIR_PREFIX = str(Path(tempfile.gettempdir()) / "llmkube-cluster-")
NETNS_DIRS = ("/run/netns", "/var/run/netns")
MOUNT_SCOPES = (
    STATE_DIR_PREFIX,
    f"{IMAGE_STORE}/",
    *NETNS_DIRS,
    "/run/containerd",
    "/var/lib/kubelet",
    "/var/lib/containerd",
)
#: Directories the node's components write to outside its state dir, whatever their configuration.
WATCHED_PATHS = (
    "/run/containerd",
    "/var/lib/cni",
    "/var/log/containers",
    "/var/log/pods",
    "/var/lib/kubelet",
    "/var/lib/containerd",
    "/opt/containerd",
    "/run/netns",
)
SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/forwarding",
    "net/ipv4/conf/all/route_localnet",
    "net/ipv4/conf/default/forwarding",
    "net/ipv6/conf/all/forwarding",
    "net/ipv6/conf/default/forwarding",
    "net/bridge/bridge-nf-call-iptables",
    "net/bridge/bridge-nf-call-ip6tables",
    "net/bridge/bridge-nf-call-arptables",
    "net/netfilter/nf_conntrack_max",
    "net/netfilter/nf_conntrack_tcp_timeout_established",
    "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
    "net/netfilter/nf_conntrack_udp_timeout",
    "net/netfilter/nf_conntrack_udp_timeout_stream",
    "net/nf_conntrack_max",
    "net/ipv4/vs/conntrack",
)
_CGROUP_ROOT = Path("/sys/fs/cgroup")
#: podman's network and containers, and the cgroup buildah creates at the root of every hierarchy for a RUN
#: step (`buildah-buildah<id>`), which an image build next door adds and removes at any time.
_FOREIGN_MARKERS = ("cni-podman", 'name: \\"podman\\"', "libpod", "/podman", "buildah-buildah")


@attrs.frozen(kw_only=True)
class HostState:
    #: "iptables nat" -> the table's `-S` lines, in order.
    iptables: Mapping[str, tuple[str, ...]]
    #: "name kind master=..." per network link.
    links: tuple[str, ...]
    #: Every IPv4 and IPv6 route in every table, as `ip route show table all` prints it.
    routes: tuple[str, ...]
    #: Mount points (with their file system type) inside MOUNT_SCOPES.
    mounts: tuple[str, ...]
    #: "hierarchy/name" for each cgroup at the root of each hierarchy.
    cgroups: tuple[str, ...]
    #: /proc/sys path -> value, for the sysctls a node might touch (absent ones are left out).
    sysctls: Mapping[str, str]
    #: Each watched path that exists, with its entries two levels deep.
    paths: tuple[str, ...]

    def differences(self, after: HostState) -> list[str]:
        """What `after` has that this snapshot has not (+) and the other way round (-), per category."""
        lines: list[str] = []
        for key in sorted(set(self.iptables) | set(after.iptables)):
            lines += _diff(f"{key}:", self.iptables.get(key, ()), after.iptables.get(key, ()))
        lines += _diff("link:", self.links, after.links)
        lines += _diff("route:", self.routes, after.routes)
        lines += _diff("mount:", self.mounts, after.mounts)
        lines += _diff("cgroup:", self.cgroups, after.cgroups)
        lines += _diff("path:", self.paths, after.paths)
        for name in sorted(set(self.sysctls) | set(after.sysctls)):
            before_value, after_value = self.sysctls.get(name), after.sysctls.get(name)
            if before_value != after_value:
                lines.append(f"sysctl {name.replace('/', '.')}: {before_value} -> {after_value}")
        return lines

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> HostState:
        data: dict[str, Any] = json.loads(text)
        return cls(
            iptables={key: tuple(lines) for key, lines in data["iptables"].items()},
            links=tuple(data["links"]),
            routes=tuple(data["routes"]),
            mounts=tuple(data["mounts"]),
            cgroups=tuple(data["cgroups"]),
            sysctls=dict(data["sysctls"]),
            paths=tuple(data["paths"]),
        )


def take_snapshot() -> HostState:
    return HostState(
        iptables={
            f"{binary} {table}": tuple(iptables_rules(binary, table))
            for binary in IPTABLES
            for table in IPTABLES_TABLES
        },
        links=tuple(sorted(_links())),
        routes=tuple(sorted(_routes())),
        mounts=tuple(sorted(f"{point} {fstype}" for point, fstype in mounts_in_scope())),
        cgroups=tuple(sorted(_cgroups())),
        sysctls=read_sysctls(SYSCTLS),
        paths=tuple(sorted(_paths())),
    )


def iptables_rules(binary: str, table: str) -> list[str]:
    """The table's rules as `-S` prints them, without podman's; empty if the table cannot be listed."""
    result = subprocess.run([binary, "-w", "-t", table, "-S"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return []
    lines = result.stdout.splitlines()
    # podman's per-container chains carry no marker of their own; the rules that jump to them do.
    foreign_chains = {
        line.split(" -j ")[-1].split()[0] for line in lines if _foreign(line) and " -j " in line
    }
    return [line for line in lines if not _foreign(line) and _chain_of(line) not in foreign_chains]


def _chain_of(line: str) -> str:
    """The chain a `-S` line declares or appends to ("-N X", "-A X ...", "-P X POLICY")."""
    parts = line.split()
    return parts[1] if len(parts) > 1 else ""


def mounts_in_scope() -> list[tuple[str, str]]:
    """(mount point, fs type) of every mount under MOUNT_SCOPES, in mount order."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        point = fields[4].replace("\\040", " ")
        fstype = fields[fields.index("-") + 1]
        if point.startswith(MOUNT_SCOPES):
            found.append((point, fstype))
    return found


def read_sysctls(names: Iterable[str]) -> dict[str, str]:
    values = {}
    for name in names:
        try:
            values[name] = (Path("/proc/sys") / name).read_text().strip()
        except OSError:
            continue
    return values


def cgroup_hierarchies() -> list[Path]:
    """The mounted v1 hierarchies (and the v2 one, which may hold controllers on a hybrid machine)."""
    if not _CGROUP_ROOT.is_dir():
        return []
    return sorted(path for path in _CGROUP_ROOT.iterdir() if path.is_dir() and not path.is_symlink())


def _links() -> list[str]:
    result = subprocess.run(["ip", "-d", "-j", "link", "show"], capture_output=True, text=True, check=True)
    links = []
    for link in json.loads(result.stdout):
        kind = link.get("linkinfo", {}).get("info_kind", link.get("link_type", ""))
        line = f"{link['ifname']} {kind} master={link.get('master', '-')}"
        if not _foreign(line):
            links.append(line)
    return links


def _routes() -> list[str]:
    routes = []
    for family in ("-4", "-6"):
        result = subprocess.run(
            ["ip", family, "route", "show", "table", "all"], capture_output=True, text=True, check=True
        )
        routes += [line.strip() for line in result.stdout.splitlines() if not _foreign(line)]
    return routes


def _cgroups() -> list[str]:
    names = []
    for hierarchy in cgroup_hierarchies():
        for entry in hierarchy.iterdir():
            if entry.is_dir() and not _foreign(entry.name):
                names.append(f"{hierarchy.name}/{entry.name}")
    return names


def _paths() -> list[str]:
    found = []
    for root in map(Path, WATCHED_PATHS):
        if not root.exists():
            continue
        found.append(str(root))
        for child in _children(root):
            found.append(str(child))
            if child.is_dir() and not child.is_symlink():
                found += [str(grandchild) for grandchild in _children(child)]
    return [path for path in found if not _foreign(path)]


def _children(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir()) if directory.is_dir() else []
    except OSError:
        return []


def _foreign(text: str) -> bool:
    return any(marker in text for marker in _FOREIGN_MARKERS)


def _diff(label: str, before: Iterable[str], after: Iterable[str]) -> list[str]:
    before_set, after_set = set(before), set(after)
    return [f"{label} - {line}" for line in sorted(before_set - after_set)] + [
        f"{label} + {line}" for line in sorted(after_set - before_set)
    ]
