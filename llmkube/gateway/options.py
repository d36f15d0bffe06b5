"""`llmkube-gateway` flags and the frozen options the gateway runs with.

Scope: which InferenceServices one gateway exposes is (namespaces) x (label selector). No namespace flag means
every namespace (cluster-wide list/watch); `--namespace` repeated or comma-separated means just those. The
selector is checked here, before anything starts, so a typo is a usage error rather than a cache that never
syncs.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path

import attrs

from llmkube.gateway.prompt import DEFAULT_PREFIX_CHARS

DEFAULT_PORT = 8000
DEFAULT_HEALTH_PORT = 8081
LOG_LEVELS = ("debug", "info", "warning", "error")

# One requirement of a label selector: `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`.
_KEY = r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_REQUIREMENT = re.compile(
    rf"^\s*(!?\s*{_KEY}|{_KEY}\s*(==?|!=)\s*{_VALUE}|{_KEY}\s+(in|notin)\s+\(\s*{_VALUE}(\s*,\s*{_VALUE})*\s*\))\s*$"
)


@attrs.frozen(kw_only=True)
class GatewayOptions:
    """Everything one gateway process needs; tests build it directly, the command line parses it."""

    #: Namespaces to expose; None exposes every namespace.
    namespaces: tuple[str, ...] | None = None
    #: Only InferenceServices matching this label selector are exposed (None: all of them).
    selector: str | None = None
    kubeconfig: Path | None = None
    context: str | None = None
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    health_host: str = "0.0.0.0"
    health_port: int = DEFAULT_HEALTH_PORT
    #: Requests that may wait per service once every slot is busy; beyond it, 429.
    queue_size: int = 64
    #: Seconds a request may wait for a slot before it gets 503.
    queue_timeout: float = 60.0
    #: Seconds a request may wait for a service with no ready replica (waking from zero, loading).
    wake_timeout: float = 600.0
    #: Seconds an upstream may stay silent in the middle of an answer.
    upstream_idle_timeout: float = 600.0
    #: Prefer one replica per prompt prefix (llama.cpp reuses a slot's cached prompt); off with None.
    sticky_slack: int | None = 2
    prefix_chars: int = DEFAULT_PREFIX_CHARS
    #: Send keyed services their API key without asking the client for it (see llmkube.gateway.keys).
    trust_clients: bool = False
    log_level: str = "info"
    log_format: str = "json"


def validate_selector(selector: str) -> str:
    """The selector unchanged, or ValueError naming the requirement that is not valid label-selector syntax."""
    depth = 0
    start = 0
    parts: list[str] = []
    for i, char in enumerate(selector):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(selector[start:i])
            start = i + 1
    parts.append(selector[start:])
    for part in parts:
        if not _REQUIREMENT.match(part):
            raise ValueError(
                f"{part.strip()!r} in selector {selector!r} is not a label requirement; write key=value, "
                "key!=value, key, !key, key in (a,b) or key notin (a,b), separated by commas"
            )
    return selector


def _selector(value: str) -> str:
    try:
        return validate_selector(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"address {value!r} must look like :8000 or 127.0.0.1:8000")
    return host.strip("[]") or "0.0.0.0", int(port)


def _csv(values: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(item.strip() for value in values or () for item in value.split(",") if item.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmkube-gateway",
        description="One OpenAI-compatible endpoint for every InferenceService: routes by the request's model, "
        "wakes services from zero, and queues or sheds load per service.",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        metavar="NS",
        help="expose services of this namespace; repeat or comma-separate for several (default: all namespaces)",
    )
    parser.add_argument(
        "-l",
        "--selector",
        type=_selector,
        help="expose only InferenceServices with these labels, e.g. gateway=public (default: all)",
    )
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: in-cluster, $KUBECONFIG)")
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument(
        "--bind-address",
        type=_address,
        default=("0.0.0.0", DEFAULT_PORT),
        help=f"where the OpenAI API listens (default: :{DEFAULT_PORT})",
    )
    parser.add_argument(
        "--health-bind-address",
        type=_address,
        default=("0.0.0.0", DEFAULT_HEALTH_PORT),
        help=f"where /healthz, /readyz and /metrics listen (default: :{DEFAULT_HEALTH_PORT})",
    )
    parser.add_argument(
        "--queue-size",
        type=int,
        default=64,
        help="requests that may wait per service once every slot is busy; more get 429 (default: %(default)s)",
    )
    parser.add_argument(
        "--queue-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="longest wait for a free slot before 503 (default: %(default)s)",
    )
    parser.add_argument(
        "--wake-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="longest wait for a service with no ready replica, e.g. waking from zero (default: %(default)s)",
    )
    parser.add_argument(
        "--upstream-idle-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="longest silence from a server in the middle of an answer (default: %(default)s)",
    )
    parser.add_argument(
        "--sticky-slack",
        type=int,
        default=2,
        help="keep requests with the same prompt prefix on one replica while it has at most this many more "
        "requests than the least busy one; -1 turns stickiness off (default: %(default)s)",
    )
    parser.add_argument(
        "--prefix-chars",
        type=int,
        default=DEFAULT_PREFIX_CHARS,
        help="prompt characters that make up the sticky prefix (default: %(default)s)",
    )
    parser.add_argument(
        "--trust-clients",
        action="store_true",
        help="do not ask clients for the API key of a service with spec.apiKeySecretRef; the gateway sends the "
        "key itself. Only for a gateway that only trusted clients can reach (a NetworkPolicy, an "
        "authenticating ingress): anyone who reaches it reaches every keyed service",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    parser.add_argument("--log-format", choices=("json", "console"), default="json")
    return parser


def parse_options(argv: Sequence[str] | None = None) -> GatewayOptions:
    """Options from the command line; exits with status 2 and a usage line on bad flags, like any CLI."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.queue_size < 1:
        parser.error(
            "--queue-size must be at least 1: a service waking from zero holds its first request there"
        )
    for flag in ("queue_timeout", "wake_timeout", "upstream_idle_timeout"):
        if getattr(args, flag) <= 0:
            parser.error(f"--{flag.replace('_', '-')} must be more than 0 seconds")
    if args.sticky_slack < -1:
        parser.error("--sticky-slack must be -1 (off) or more")
    if args.prefix_chars < 1:
        parser.error("--prefix-chars must be at least 1")
    host, port = args.bind_address
    health_host, health_port = args.health_bind_address
    return GatewayOptions(
        namespaces=_csv(args.namespace) or None,
        selector=args.selector,
        kubeconfig=args.kubeconfig,
        context=args.context,
        host=host,
        port=port,
        health_host=health_host,
        health_port=health_port,
        queue_size=args.queue_size,
        queue_timeout=args.queue_timeout,
        wake_timeout=args.wake_timeout,
        upstream_idle_timeout=args.upstream_idle_timeout,
        sticky_slack=None if args.sticky_slack == -1 else args.sticky_slack,
        prefix_chars=args.prefix_chars,
        trust_clients=args.trust_clients,
        log_level=args.log_level,
        log_format=args.log_format,
    )
