"""The manager program's flags, parsed into the values the runtime and the builders take.

Kept apart from `__main__` so the parsing (defaults, environment fallbacks, validation) is unit-testable without
starting anything.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Mapping, Sequence

import attrs

from controller.config import (
    DEFAULT_CONTROLLER_IMAGE,
    DEFAULT_MAX_CONCURRENT_RECONCILES,
    ControllerConfig,
    LlamaServerImages,
)

DEFAULT_LEASE_NAME = "llmkube-controller-leader"
DEFAULT_SYSTEM_NAMESPACE = "llmkube-system"


@attrs.frozen(kw_only=True)
class ManagerFlags:
    kubeconfig: str | None
    context: str | None
    namespace: str | None
    bind_host: str
    bind_port: int
    leader_elect: bool
    leader_election_namespace: str
    leader_election_id: str
    identity: str
    max_concurrent_reconciles: int
    graceful_shutdown_timeout: float
    log_level: str
    log_format: str
    #: Whether the fetcher image came from a flag; if not, the manager asks the API for its own pod's image.
    fetcher_image_explicit: bool
    config: ControllerConfig


def _bind_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"bind address {value!r} must look like :8080 or 127.0.0.1:8080")
    return host or "0.0.0.0", int(port)


def _selector(value: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in value.split(",") if item]
    if not pairs or any(len(pair) != 2 or not pair[0] for pair in pairs):
        raise argparse.ArgumentTypeError(f"selector {value!r} must look like app=nvidia-dcgm-exporter[,k=v]")
    return {key: val for key, val in pairs}


def _image(value: str) -> str:
    if not value.strip() or any(c.isspace() for c in value):
        raise argparse.ArgumentTypeError(
            f"image {value!r} must be a reference like registry.local/llama.cpp:server"
        )
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llmkube-controller",
        description="The LLMKube operator: reconciles Models and InferenceServices.",
    )
    p.add_argument(
        "--kubeconfig", help="kubeconfig to use outside a cluster (default: in-cluster, $KUBECONFIG)"
    )
    p.add_argument("--context", help="kubeconfig context")
    p.add_argument("--namespace", help="watch only this namespace (default: all namespaces)")
    p.add_argument(
        "--bind-address",
        type=_bind_address,
        default=("0.0.0.0", 8080),
        help="serves /healthz, /readyz and /metrics (default :8080)",
    )
    p.add_argument("--leader-elect", action="store_true", help="elect one active replica through a Lease")
    p.add_argument(
        "--leader-election-namespace", help="namespace of the Lease (default: the pod's namespace)"
    )
    p.add_argument("--leader-election-id", default=DEFAULT_LEASE_NAME, help="name of the Lease")
    p.add_argument(
        "--max-concurrent-reconciles",
        type=int,
        default=DEFAULT_MAX_CONCURRENT_RECONCILES,
        help="workers per controller (Model and InferenceService each)",
    )
    p.add_argument(
        "--graceful-shutdown-timeout", type=float, default=30.0, help="seconds to drain on SIGTERM"
    )
    p.add_argument("--model-cache-size", default="100Gi", help="size of each namespace's model cache claim")
    p.add_argument(
        "--model-cache-storage-class", help="StorageClass of the cache claims (default: cluster's)"
    )
    p.add_argument(
        "--model-cache-access-mode",
        default="ReadWriteOnce",
        choices=["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"],
        help="access mode of the cache claims; ReadWriteMany lets pods on several nodes share one cache",
    )
    p.add_argument("--fetcher-image", help="image of the download Jobs (default: the controller's own image)")
    p.add_argument(
        "--fetch-node-selector",
        type=_selector,
        default={},
        help="labels the download Jobs' nodes must carry, e.g. to keep downloads on nodes with fast egress",
    )
    # Clusters that cannot reach ghcr.io (air-gapped, a mirror, a local cluster) name their own server images.
    default_servers = LlamaServerImages()
    for accelerator in ("cpu", "nvidia", "amd"):
        p.add_argument(
            f"--llama-server-image-{accelerator}",
            type=_image,
            default=getattr(default_servers, accelerator),
            help=f"llama.cpp server image of {accelerator} services without spec.image (default: %(default)s)",
        )
    p.add_argument("--dcgm-namespace", default="gpu-operator", help="namespace of the DCGM exporter")
    p.add_argument(
        "--dcgm-selector",
        type=_selector,
        default={"app": "nvidia-dcgm-exporter"},
        help="labels of its Service",
    )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--log-format", default="json", choices=["json", "console"])
    return p


def parse_flags(
    argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> ManagerFlags:
    env = os.environ if environ is None else environ
    args = parser().parse_args(argv)
    if args.max_concurrent_reconciles < 1:
        parser().error("--max-concurrent-reconciles must be at least 1")
    host, port = args.bind_address
    config = ControllerConfig(
        model_cache_size=args.model_cache_size,
        model_cache_storage_class=args.model_cache_storage_class,
        model_cache_access_mode=args.model_cache_access_mode,
        fetcher_image=args.fetcher_image or DEFAULT_CONTROLLER_IMAGE,
        fetch_node_selector=args.fetch_node_selector,
        llama_server_images=LlamaServerImages(
            cpu=args.llama_server_image_cpu,
            nvidia=args.llama_server_image_nvidia,
            amd=args.llama_server_image_amd,
        ),
        dcgm_namespace=args.dcgm_namespace,
        dcgm_selector=args.dcgm_selector,
    )
    return ManagerFlags(
        kubeconfig=args.kubeconfig,
        context=args.context,
        namespace=args.namespace,
        bind_host=host,
        bind_port=port,
        leader_elect=args.leader_elect,
        leader_election_namespace=args.leader_election_namespace
        or env.get("POD_NAMESPACE")
        or DEFAULT_SYSTEM_NAMESPACE,
        leader_election_id=args.leader_election_id,
        identity=env.get("POD_NAME") or f"{socket.gethostname()}_{os.getpid()}",
        max_concurrent_reconciles=args.max_concurrent_reconciles,
        graceful_shutdown_timeout=args.graceful_shutdown_timeout,
        log_level=args.log_level,
        log_format=args.log_format,
        fetcher_image_explicit=args.fetcher_image is not None,
        config=config,
    )
