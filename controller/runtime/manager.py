"""The manager: starts everything in order and stops it in reverse, like controller-runtime's.

Start-up: probes/metrics server (so a slow cache sync is visible) -> informers -> wait until every cache has
synced -> campaign for the lease (if enabled) -> controllers. Every replica serves /healthz, /readyz and /metrics
and keeps its caches warm; only the leader runs controllers.

Shutdown (SIGTERM/SIGINT or `stop()`), within `graceful_shutdown_timeout`: controllers first (their queues
drain and in-flight reconciles finish), then informers (so no event arrives for a controller that is gone),
then leader election (releasing the lease so a standby takes over at once), then the HTTP server. The grace
period bounds the whole sequence: when it is over, controllers still draining are aborted (their running
reconciles cancelled, whatever their own grace period) and the rest is cancelled. A second signal cancels
everything at once.

If leadership is lost, the controllers are aborted at once, without any grace period, and `run` raises
`LeadershipLost`: another replica may already be reconciling the same objects, and the process must exit.

Every wait (cache sync, the grace period, the lease's timers) runs on the injected clock.
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import anyio
import attrs
import structlog
from anyio.abc import TaskStatus
from prometheus_client import REGISTRY, CollectorRegistry

from controller.kube import KubeClient, Resource
from controller.runtime.clock import Clock, MonotonicClock, finish_by
from controller.runtime.health import HealthServer
from controller.runtime.informer import Informer
from controller.runtime.leader_metrics import leader_status
from controller.runtime.leaderelection import LeaderElectionConfig, LeaderElector, LeadershipLost
from controller.runtime.transform import Transform

log = structlog.get_logger(__name__)


class Runnable(Protocol):
    async def run(self, *, task_status: TaskStatus[None] = ...) -> None: ...


@runtime_checkable
class Abortable(Protocol):
    """A runnable whose in-flight work can be cancelled at once, skipping its own grace period (a Controller)."""

    def abort(self) -> None: ...


class CacheSyncTimeout(Exception):
    """Some informer did not complete its first LIST in time (RBAC, a missing CRD, an unreachable server)."""


@attrs.frozen(kw_only=True)
class ManagerOptions:
    # Loopback by default; the in-cluster entry point passes "0.0.0.0" so the kubelet can probe the pod.
    health_host: str = "127.0.0.1"
    health_port: int = 8080
    leader_election: LeaderElectionConfig | None = None
    graceful_shutdown_timeout: float = 30.0
    cache_sync_timeout: float = 120.0
    handle_signals: bool = True


@attrs.define
class _Tier:
    """One group of runnables, cancelled together; `done` is set once all of them have returned."""

    name: str
    scope: anyio.CancelScope
    done: anyio.Event


class Manager:
    def __init__(
        self,
        client: KubeClient,
        *,
        options: ManagerOptions | None = None,
        registry: CollectorRegistry = REGISTRY,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self._clock: Clock = clock or MonotonicClock()
        self.options = options or ManagerOptions()
        #: Where /metrics reads from; controllers and domain metrics of this manager register here.
        self.registry = registry
        self.health = HealthServer(
            host=self.options.health_host, port=self.options.health_port, registry=registry
        )
        self.health.add_readiness_check("informers", self._informers_ready)
        self._informers: dict[tuple[Resource, str | None, str | None, str | None], Informer] = {}
        self._leader_runnables: list[Runnable] = []
        self._runnables: list[Runnable] = []
        self._elector: LeaderElector | None = None
        if self.options.leader_election is not None:
            status = leader_status(registry).labels(self.options.leader_election.name)
            status.set(0)
            self._elector = LeaderElector(
                client,
                self.options.leader_election,
                clock=self._clock,
                on_started_leading=lambda: status.set(1),
                on_stopped_leading=lambda: status.set(0),
            )
        self._stop: anyio.Event | None = None
        self._root: anyio.CancelScope | None = None

    # -- wiring (before run) ----------------------------------------------------------------------------------

    def informer(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        transform: Transform | None = None,
        **options: Any,
    ) -> Informer:
        """The shared informer for (resource, namespace, selectors), created on first use.

        The field selector is part of the key: two informers on one CRD each (by `metadata.name`) cache
        different objects and must not be handed out as one. Every user of a shared informer must ask for the
        same `transform`: a cache trimmed for one controller would silently lack what another one reads.
        """
        key = (resource, namespace, label_selector, field_selector)
        found = self._informers.get(key)
        if found is None:
            found = Informer(
                self.client,
                resource,
                namespace=namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                transform=transform,
                **options,
            )
            self._informers[key] = found
        elif found.transform is not transform:
            raise ValueError(
                f"the shared informer for {resource}@{namespace or '*'} ({label_selector or 'no selector'}) "
                "was created with another transform; give every user of one kind the same transform"
            )
        return found

    def add(self, runnable: Runnable, *, needs_leader: bool = True) -> None:
        """Add a controller (runs only on the leader) or, with `needs_leader=False`, a task every replica runs."""
        (self._leader_runnables if needs_leader else self._runnables).append(runnable)

    @property
    def elector(self) -> LeaderElector | None:
        return self._elector

    def is_leader(self) -> bool:
        return self._elector is None or self._elector.is_leader()

    def stop(self) -> None:
        """Begin a graceful shutdown (what SIGTERM does)."""
        if self._stop is not None:
            self._stop.set()

    # -- running ----------------------------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until stopped; `started` once the controllers run (or, on a standby, once caches synced)."""
        self._stop = anyio.Event()
        try:
            async with anyio.create_task_group() as root:
                self._root = root.cancel_scope
                if self.options.handle_signals:
                    root.start_soon(self._handle_signals)
                http = await root.start(self._run_tier, "http", [self.health])
                caches = await root.start(
                    self._run_tier, "informers", [*self._informers.values(), *self._runnables]
                )
                await self._wait_for_sync()
                election = None
                if self._elector is not None:
                    lead = _AbortOnLoss(elector=self._elector, abort=self._abort_controllers)
                    election = await root.start(self._run_tier, "leader-election", [lead])
                    task_status.started()
                    task_status = anyio.TASK_STATUS_IGNORED
                    await self._until_stopped(self._elector.wait_leading)
                controllers = None
                if not self._stop.is_set():
                    controllers = await root.start(self._run_tier, "controllers", self._leader_runnables)
                    log.info("controllers started", count=len(self._leader_runnables))
                task_status.started()
                await self._stop.wait()
                await self._shutdown([controllers, caches, election, http])
                root.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # Task groups wrap failures; callers want `except LeadershipLost` / `except CacheSyncTimeout`.
            lost = group.subgroup(LeadershipLost)
            raise _single_failure(lost if lost is not None else group) from None
        log.info("manager stopped")

    async def _wait_for_sync(self) -> None:
        informers = list(self._informers.values())

        async def all_synced() -> None:
            for informer in informers:
                await informer.wait_synced()

        async def until_synced_or_stopped() -> None:
            await self._until_stopped(all_synced)

        deadline = self._clock.now() + self.options.cache_sync_timeout
        if not await finish_by(self._clock, deadline, until_synced_or_stopped):
            missing = [f"{i.resource}@{i.namespace or '*'}" for i in informers if not i.has_synced()]
            raise CacheSyncTimeout(
                f"caches not synced within {self.options.cache_sync_timeout:.0f}s: {', '.join(missing)}; "
                "check RBAC (list/watch) and that the CRDs are installed"
            )
        log.info("caches synced", informers=len(informers))

    async def _until_stopped(self, wait: Callable[[], Awaitable[None]]) -> None:
        """Await `wait()`, giving up early if a stop is requested."""
        assert self._stop is not None
        stop = self._stop
        async with anyio.create_task_group() as tg:

            async def target() -> None:
                await wait()
                tg.cancel_scope.cancel()

            async def stopper() -> None:
                await stop.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(target)
            tg.start_soon(stopper)

    async def _run_tier(
        self,
        name: str,
        runnables: Sequence[Runnable],
        *,
        task_status: TaskStatus[_Tier] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        tier = _Tier(name=name, scope=anyio.CancelScope(), done=anyio.Event())
        try:
            with tier.scope:
                async with anyio.create_task_group() as tg:
                    for runnable in runnables:
                        await tg.start(runnable.run)
                    task_status.started(tier)
        finally:
            tier.done.set()

    async def _shutdown(self, tiers: Sequence[_Tier | None]) -> None:
        log.info("shutting down", grace_seconds=self.options.graceful_shutdown_timeout)

        async def stop_in_order() -> None:
            for tier in tiers:
                if tier is None:
                    continue
                tier.scope.cancel()
                await tier.done.wait()
                log.debug("stopped", tier=tier.name)

        deadline = self._clock.now() + self.options.graceful_shutdown_timeout
        with anyio.CancelScope(shield=True):
            if await finish_by(self._clock, deadline, stop_in_order):
                return
            log.warning("graceful shutdown timed out; aborting controllers and cancelling the rest")
            # The controllers' drains are shielded with their own grace period; only an abort reaches them.
            self._abort_controllers()

    def _abort_controllers(self) -> None:
        for runnable in self._leader_runnables:
            if isinstance(runnable, Abortable):
                runnable.abort()

    async def _handle_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                if self._stop is not None and self._stop.is_set():
                    log.warning("second signal; stopping now", signal=signal.Signals(signum).name)
                    if self._root is not None:
                        self._root.cancel()
                    return
                log.info("signal received; shutting down gracefully", signal=signal.Signals(signum).name)
                self.stop()

    def _informers_ready(self) -> str | None:
        not_synced = [
            f"{i.resource}@{i.namespace or '*'}" for i in self._informers.values() if not i.has_synced()
        ]
        if not_synced:
            return f"caches not synced: {', '.join(not_synced)}"
        unhealthy = [
            f"{i.resource}@{i.namespace or '*'}" for i in self._informers.values() if not i.healthy()
        ]
        if unhealthy:
            return f"watches disconnected: {', '.join(unhealthy)}"
        return None


@attrs.frozen(kw_only=True)
class _AbortOnLoss:
    """Runs the elector; losing the lease aborts the controllers before the loss propagates and stops the rest."""

    elector: LeaderElector
    abort: Callable[[], None]

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        try:
            await self.elector.run(task_status=task_status)
        except LeadershipLost:
            self.abort()
            raise


def _single_failure(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one failure inside (possibly nested) task-group wrappers, or the group itself if there are several."""
    current: BaseException = group
    while isinstance(current, BaseExceptionGroup) and len(current.exceptions) == 1:
        current = current.exceptions[0]
    return current
