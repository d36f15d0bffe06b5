"""`llmkube agent`: wiring the informers, the controller, the servers' task group and the shutdown order.

Start-up: stop servers an earlier agent left behind (see `leftovers`), then run a manager (no leader election:
each host runs its own agent) with one controller over InferenceServices and Models, and over the agent's own
Services and EndpointSlices so a deleted one is put back.

Shutdown (SIGTERM/SIGINT, or cancelling `run_agent`): the manager drains the controller, then every server is
stopped (SIGTERM, SIGKILL after the grace), then each served EndpointSlice is deleted and HostServing set False
with reason AgentStopped, so the cluster stops routing to this host and says why. The Services stay: their
names and cluster IPs are stable across agent restarts, and they simply have no endpoints meanwhile.

Exit codes of `main`: 0 after a graceful stop, 1 when the caches never synced (RBAC, CRDs missing), 2 for bad
flags or a missing llama-server binary.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import os
import socket
import sys
from collections.abc import Sequence

import anyio
import structlog
from anyio.abc import TaskStatus
from prometheus_client import CollectorRegistry

from api.v1alpha1.well_known import AGENT_MANAGER, MANAGED_BY_LABEL, MODEL_REF_FIELD
from controller.kube import EventRecorder, KubeClient, KubeError
from controller.kube.resources import ENDPOINT_SLICES, INFERENCE_SERVICES, MODELS, SECRETS, SERVICES
from controller.runtime.controller import Controller
from controller.runtime.events import referrers
from controller.runtime.indexer import field_index
from controller.runtime.logs import configure_logging
from controller.runtime.manager import CacheSyncTimeout, Manager, ManagerOptions
from controller.runtime.request import Request
from llmkube.agent.caches import Caches
from llmkube.agent.fleet import Fleet
from llmkube.agent.leftovers import ServerRegistry, stop_leftovers
from llmkube.agent.model_fetch import TokenRef
from llmkube.agent.options import AgentOptions, parse_options
from llmkube.agent.ports import PortAllocator
from llmkube.agent.publisher import SLICE_MANAGED_BY_LABEL, Publisher
from llmkube.agent.reconciler import AgentReconciler
from llmkube.agent.supervisor import Environment, Timing

log = structlog.get_logger("llmkube.agent")

CONTROLLER_NAME = "llmkube-agent"
WORKERS = 4
#: Beyond the servers' stop grace: time for the final status writes and slice deletions.
SHUTDOWN_WRITES_SECONDS = 30.0


class AgentConfigError(Exception):
    """Something about the host makes serving impossible; the message says what to fix."""


def probe_address(options: AgentOptions) -> str:
    """Where the agent probes its servers: the bind address, unless that is a wildcard."""
    bind = options.effective_bind_address
    return options.host_address if ipaddress.ip_address(bind).is_unspecified else bind


def _check_host(options: AgentOptions) -> None:
    binary = options.llama_server
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise AgentConfigError(
            f"llama-server not found or not executable at {binary}: pass --llama-server PATH"
        )
    options.cache_dir.mkdir(parents=True, exist_ok=True)


async def run_agent(
    options: AgentOptions,
    *,
    handle_signals: bool = False,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled or signalled; `started` once the caches synced and the controller runs."""
    _check_host(options)
    host = options.host_name or socket.gethostname()
    async with KubeClient.connect(kubeconfig=options.kubeconfig, context=options.context) as client:
        registry = ServerRegistry(options.state_dir)
        await stop_leftovers(registry, grace=options.stop_grace)
        manager = Manager(
            client,
            options=ManagerOptions(
                health_host=options.health_address,
                health_port=options.health_port,
                leader_election=None,
                graceful_shutdown_timeout=options.stop_grace + SHUTDOWN_WRITES_SECONDS,
                handle_signals=handle_signals,
            ),
            registry=CollectorRegistry(),
        )
        namespaces: Sequence[str | None] = options.namespaces or (None,)
        services = {
            ns: manager.informer(
                INFERENCE_SERVICES, namespace=ns, indexers={MODEL_REF_FIELD: field_index(MODEL_REF_FIELD)}
            )
            for ns in namespaces
        }
        models = {ns: manager.informer(MODELS, namespace=ns) for ns in namespaces}
        agent_services = {
            ns: manager.informer(SERVICES, namespace=ns, label_selector=f"{MANAGED_BY_LABEL}={AGENT_MANAGER}")
            for ns in namespaces
        }
        slices = {
            ns: manager.informer(
                ENDPOINT_SLICES, namespace=ns, label_selector=f"{SLICE_MANAGED_BY_LABEL}={AGENT_MANAGER}"
            )
            for ns in namespaces
        }
        caches = Caches(
            services={ns: i.store for ns, i in services.items()},
            models={ns: i.store for ns, i in models.items()},
            agent_services={ns: i.store for ns, i in agent_services.items()},
            slices={ns: i.store for ns, i in slices.items()},
        )

        async def token_lookup(ref: TokenRef) -> str | None:
            return await read_token(client, ref)

        async with anyio.create_task_group() as servers:

            def wake(key: str) -> None:
                namespace, _, name = key.partition("/")
                controller.queue.add(Request(namespace=namespace, name=name))

            env = Environment(
                binary=options.llama_server,
                cache_dir=options.cache_dir,
                log_dir=options.state_dir / "logs",
                probe_address=probe_address(options),
                ports=_port_allocator(options),
                registry=registry,
                timing=Timing.from_options(options),
                token_lookup=token_lookup,
            )
            fleet = Fleet(servers, env=env, on_change=wake)
            reconciler = AgentReconciler(
                client=client,
                caches=caches,
                fleet=fleet,
                publisher=Publisher(client, caches=caches),
                recorder=EventRecorder(client, component=CONTROLLER_NAME, instance=host),
                options=options,
                host=host,
            )
            controller = Controller(
                name=CONTROLLER_NAME,
                reconciler=reconciler,
                max_concurrent_reconciles=WORKERS,
                registry=manager.registry,
                shutdown_grace_period=options.stop_grace + SHUTDOWN_WRITES_SECONDS,
            )
            for ns in namespaces:
                controller.for_(services[ns]).watches(
                    models[ns], referrers(services[ns].store, MODEL_REF_FIELD)
                )
                for owned in (agent_services[ns], slices[ns]):
                    controller.owns(
                        owned, owner_kind="InferenceService", owner_group=INFERENCE_SERVICES.group
                    )
            manager.add(controller)
            log.info(
                "host agent starting",
                namespaces=list(options.namespaces or ["*"]),
                host=host,
                address=options.host_address,
                llama_server=str(options.llama_server),
                cache_dir=str(options.cache_dir),
                ports=str(options.port_range),
            )
            try:
                await manager.run(task_status=task_status)
            finally:
                with (
                    anyio.CancelScope(shield=True),
                    anyio.move_on_after(options.stop_grace + SHUTDOWN_WRITES_SECONDS),
                ):
                    await fleet.stop_all()
                    await reconciler.shut_down()
                servers.cancel_scope.cancel()
    log.info("host agent stopped")


def _port_allocator(options: AgentOptions) -> PortAllocator:
    return PortAllocator(options.port_range, address=options.effective_bind_address)


async def read_token(client: KubeClient, ref: TokenRef) -> str | None:
    """The HuggingFace token from the Model's Secret, or None (logged) when it cannot be read."""
    try:
        secret = await client.get(SECRETS, ref.name, namespace=ref.namespace)
    except KubeError as exc:
        log.warning(
            "cannot read the HuggingFace token Secret; fetching without it", secret=ref.name, error=str(exc)
        )
        return None
    value = (secret.get("data") or {}).get(ref.key)
    if value is None:
        log.warning("the HuggingFace token Secret lacks the key", secret=ref.name, key=ref.key)
        return None
    try:
        return base64.b64decode(value).decode().strip() or None
    except (binascii.Error, UnicodeDecodeError):
        log.warning("the HuggingFace token in the Secret is not valid base64 text", secret=ref.name)
        return None


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse_options(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    configure_logging(level=options.log_level, json=options.log_format == "json")
    try:
        anyio.run(functools.partial(run_agent, options, handle_signals=True), backend="asyncio")
    except AgentConfigError as exc:
        print(f"llmkube agent: {exc}", file=sys.stderr)
        return 2
    except CacheSyncTimeout as exc:
        log.error("caches did not sync", error=str(exc))
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
