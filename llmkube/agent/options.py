"""`llmkube agent` flags and the frozen options the agent runs with.

The host address is the one address the cluster is told about (the EndpointSlice), so it must be an IP literal
that pods can route to: on a Mac running a VM cluster that is the Mac's address on the VM network, on a Linux
host in the cluster its node IP. llama-server binds that same address by default rather than every interface,
so a server is not exposed on networks nobody asked for; `--bind-address 0.0.0.0` widens it on purpose.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import attrs

from api.v1alpha1.inferenceservice import HOST_ACCELERATORS

DEFAULT_PORT_RANGE = (18080, 18179)
DEFAULT_HEALTH_PORT = 8089
LOG_LEVELS = ("debug", "info", "warning", "error")


def default_cache_dir() -> Path:
    return Path(os.environ.get("LLMKUBE_CACHE", Path.home() / ".cache" / "llmkube")) / "agent"


@attrs.frozen(kw_only=True)
class PortRange:
    first: int
    last: int

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.first <= self.last <= 65535:
            raise ValueError(f"port range {self.first}-{self.last} must lie within 1-65535, low to high")

    def ports(self) -> range:
        return range(self.first, self.last + 1)

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


@attrs.frozen(kw_only=True)
class AgentOptions:
    """Everything one agent process needs; tests build it directly, the command line parses it."""

    #: Namespaces to watch; None watches all of them (needs cluster-wide list/watch).
    namespaces: tuple[str, ...] | None = ("default",)
    kubeconfig: Path | None = None
    context: str | None = None
    cache_dir: Path = attrs.field(factory=default_cache_dir)
    llama_server: Path = Path("llama-server")
    #: Published in the EndpointSlice; an IPv4 or IPv6 literal.
    host_address: str = "127.0.0.1"
    #: Where llama-server listens; defaults to `host_address`.
    bind_address: str | None = None
    port_range: PortRange = PortRange(first=DEFAULT_PORT_RANGE[0], last=DEFAULT_PORT_RANGE[1])
    #: Serve only services whose `kubernetes.io/hostname` node selector names this host (or that have none).
    host_name: str | None = None
    accelerators: tuple[str, ...] = HOST_ACCELERATORS
    health_address: str = "127.0.0.1"
    health_port: int = DEFAULT_HEALTH_PORT
    log_level: str = "info"
    log_format: str = "json"
    #: Seconds a server may take to load its model before it counts as failed and is restarted.
    startup_timeout: float = 600.0
    #: Seconds between /health probes of each server.
    health_interval: float = 2.0
    #: Consecutive failed probes of a started server before it is killed and restarted.
    failure_threshold: int = 5
    #: Seconds between SIGTERM and SIGKILL when stopping a server.
    stop_grace: float = 10.0
    restart_backoff_initial: float = 1.0
    restart_backoff_max: float = 60.0
    #: A server healthy this long starts its next restart backoff from the beginning again.
    restart_backoff_reset: float = 300.0

    @property
    def effective_bind_address(self) -> str:
        return self.bind_address or self.host_address

    @property
    def state_dir(self) -> Path:
        """Agent bookkeeping beside the models: cache keys are 16 hex digits, so this name cannot collide."""
        return self.cache_dir / ".agent"


def _port_range(value: str) -> PortRange:
    first, sep, last = value.partition("-")
    try:
        return PortRange(first=int(first), last=int(last if sep else first))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r}: expected LOW-HIGH, e.g. 18080-18179 ({exc})") from None


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an IP address: EndpointSlices need an address literal, not a host name"
        ) from None


def _csv(values: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(item.strip() for value in values or () for item in value.split(",") if item.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmkube agent",
        description="Serve InferenceServices with accelerator metal or host by running llama-server on this "
        "machine, and publish them to the cluster as a Service plus EndpointSlice.",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        metavar="NS",
        help="namespace to watch; repeat or comma-separate for several (default: default)",
    )
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace")
    parser.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="model cache (default: ~/.cache/llmkube/agent)"
    )
    parser.add_argument(
        "--llama-server", type=Path, default=None, help="llama-server binary (default: the one on PATH)"
    )
    parser.add_argument(
        "--host-address",
        type=_ip,
        default="127.0.0.1",
        help="IP address of this host that the cluster can reach; published in the EndpointSlice",
    )
    parser.add_argument(
        "--bind-address",
        type=_ip,
        default=None,
        help="address llama-server listens on (default: --host-address)",
    )
    parser.add_argument(
        "--port-range",
        type=_port_range,
        default=PortRange(first=DEFAULT_PORT_RANGE[0], last=DEFAULT_PORT_RANGE[1]),
        help="ports for llama-server processes, LOW-HIGH (default: %(default)s)",
    )
    parser.add_argument(
        "--host-name",
        help="serve only services whose nodeSelector kubernetes.io/hostname is this name (or unset)",
    )
    parser.add_argument(
        "--accelerator",
        action="append",
        choices=HOST_ACCELERATORS,
        help="accelerator types to serve; repeat for several (default: metal and host)",
    )
    parser.add_argument(
        "--health-address", type=_ip, default="127.0.0.1", help="address of /healthz /metrics"
    )
    parser.add_argument(
        "--health-port",
        type=int,
        default=DEFAULT_HEALTH_PORT,
        help="port of the agent's /healthz, /readyz and /metrics (0 picks a free one; default: %(default)s)",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    parser.add_argument("--log-format", choices=("json", "console"), default="json")
    parser.add_argument("--startup-timeout", type=float, default=600.0, metavar="SECONDS")
    parser.add_argument("--stop-grace", type=float, default=10.0, metavar="SECONDS")
    return parser


def parse_options(argv: Sequence[str] | None = None) -> AgentOptions:
    """Options from the command line; exits with status 2 and a usage line on bad flags, like any CLI."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.all_namespaces and args.namespace:
        parser.error("--all-namespaces and --namespace exclude each other")
    namespaces = None if args.all_namespaces else (_csv(args.namespace) or ("default",))
    llama_server = args.llama_server
    if llama_server is None:
        found = shutil.which("llama-server")
        if found is None:
            parser.error("no llama-server on PATH: install llama.cpp or pass --llama-server PATH")
        llama_server = Path(found)
    if not 0 <= args.health_port <= 65535:
        parser.error("--health-port must be within 0-65535")
    return AgentOptions(
        namespaces=namespaces,
        kubeconfig=args.kubeconfig,
        context=args.context,
        cache_dir=args.cache_dir or default_cache_dir(),
        llama_server=llama_server,
        host_address=args.host_address,
        bind_address=args.bind_address,
        port_range=args.port_range,
        host_name=args.host_name,
        accelerators=tuple(args.accelerator) if args.accelerator else HOST_ACCELERATORS,
        health_address=args.health_address,
        health_port=args.health_port,
        log_level=args.log_level,
        log_format=args.log_format,
        startup_timeout=args.startup_timeout,
        stop_grace=args.stop_grace,
    )
