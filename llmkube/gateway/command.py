"""`llmkube-gateway`: wiring the informers, the routing table, the proxy, the idler and the shutdown order.

A manager without leader election runs it all: every replica serves traffic, so every replica keeps its own
caches and its own counts (the idler's shared annotation is what lets replicas agree on idleness). /readyz turns
ready once both caches synced, so a Kubernetes Service sends no traffic to a replica that would answer 404 for a
model it has not heard of yet; until then the API answers 503 `gateway_starting` itself.

Shutdown (SIGTERM/SIGINT, or cancelling `run_gateway`): the API stops accepting, requests in flight get the drain
period, then the informers and the probe server stop.

Exit codes of `main`: 0 after a graceful stop, 1 when the caches never synced (RBAC, CRDs missing), 2 for bad
flags.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import aiohttp
import anyio
import attrs
import structlog
from anyio.abc import TaskStatus
from prometheus_client import CollectorRegistry

from api.v1alpha1.well_known import APP_NAME, NAME_LABEL
from controller.kube import KubeClient, user_agent
from controller.kube.resources import ENDPOINT_SLICES, INFERENCE_SERVICES
from controller.runtime.informer import Informer
from controller.runtime.logs import configure_logging
from controller.runtime.manager import CacheSyncTimeout, Manager, ManagerOptions
from llmkube.gateway import event_loop
from llmkube.gateway.keys import ServiceKeys
from llmkube.gateway.metrics import GatewayMetrics
from llmkube.gateway.options import GatewayOptions, parse_options
from llmkube.gateway.proxy import Proxy
from llmkube.gateway.scaler import Idler, Waker
from llmkube.gateway.server import ApiServer
from llmkube.gateway.table import RouteTable
from llmkube.gateway.watch import (
    BY_SERVICE_NAME,
    BY_SLICE_SERVICE,
    RouteWatcher,
    service_name_index,
    slice_service_index,
)

log = structlog.get_logger("llmkube.gateway")

PROGRAM = "llmkube-gateway"
#: Requests in flight at SIGTERM get this long to finish; the pod's grace period must be longer.
DRAIN_SECONDS = 25.0
#: Slices of every Service the operator or the host agent publishes (both copy this label onto them).
SLICE_SELECTOR = f"{NAME_LABEL}={APP_NAME}"


@attrs.frozen(kw_only=True)
class RunningGateway:
    """What `run_gateway` reports once started: where it listens (ports resolved when 0 was asked for)."""

    port: int
    health_port: int
    table: RouteTable
    registry: CollectorRegistry


async def run_gateway(
    options: GatewayOptions,
    *,
    handle_signals: bool = False,
    task_status: TaskStatus[RunningGateway] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled or signalled; `started` (with the bound ports) once the API listens."""
    async with KubeClient.connect(
        kubeconfig=options.kubeconfig, context=options.context, user_agent=user_agent(PROGRAM)
    ) as client:
        registry = CollectorRegistry()
        metrics = GatewayMetrics(registry)
        manager = Manager(
            client,
            options=ManagerOptions(
                health_host=options.health_host,
                health_port=options.health_port,
                leader_election=None,
                graceful_shutdown_timeout=DRAIN_SECONDS + 5.0,
                handle_signals=handle_signals,
            ),
            registry=registry,
        )
        namespaces: Sequence[str | None] = options.namespaces or (None,)
        services = {
            ns: manager.informer(
                INFERENCE_SERVICES,
                namespace=ns,
                label_selector=options.selector,
                indexers={BY_SERVICE_NAME: service_name_index},
            )
            for ns in namespaces
        }
        slices = {
            ns: manager.informer(
                ENDPOINT_SLICES,
                namespace=ns,
                label_selector=SLICE_SELECTOR,
                indexers={BY_SLICE_SERVICE: slice_service_index},
            )
            for ns in namespaces
        }
        informers: list[Informer] = [*services.values(), *slices.values()]

        def synced() -> bool:
            return all(informer.has_synced() for informer in informers)

        table = RouteTable(queue_limit=options.queue_size, metrics=metrics)
        watcher = RouteWatcher(
            table,
            services={ns: i.store for ns, i in services.items()},
            slices={ns: i.store for ns, i in slices.items()},
        )
        for informer in services.values():
            informer.add_event_handler(watcher.service_events)
        for informer in slices.values():
            informer.add_event_handler(watcher.slice_events)

        connector = aiohttp.TCPConnector(limit=0, enable_cleanup_closed=True)
        async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
            waker = Waker(client, metrics=metrics)
            proxy = Proxy(
                table=table,
                wake=waker.wake,
                metrics=metrics,
                options=options,
                session=session,
                synced=synced,
                keys=ServiceKeys(client),
            )
            server = ApiServer(
                proxy.application(), host=options.host, port=options.port, drain_seconds=DRAIN_SECONDS
            )
            manager.add(server, needs_leader=False)
            manager.add(Idler(client, table=table, metrics=metrics, synced=synced), needs_leader=False)
            log.info(
                "gateway starting",
                namespaces=list(options.namespaces or ["*"]),
                selector=options.selector or "",
                bind=f"{options.host}:{options.port}",
                queue_size=options.queue_size,
                event_loop=event_loop.running_loop_name(),
            )

            async with anyio.create_task_group() as tg:
                # The manager reports `started` once the caches synced and its runnables run.
                await tg.start(manager.run)
                task_status.started(
                    RunningGateway(
                        port=server.port, health_port=manager.health.port, table=table, registry=registry
                    )
                )
    log.info("gateway stopped")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    configure_logging(level=options.log_level, json=options.log_format == "json")
    try:
        anyio.run(
            functools.partial(run_gateway, options, handle_signals=True),
            backend="asyncio",
            backend_options=event_loop.backend_options(),
        )
    except CacheSyncTimeout as exc:
        log.error("caches did not sync", error=str(exc))
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
