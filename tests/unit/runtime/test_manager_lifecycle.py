"""Manager start-up and shutdown, without a cluster: order, unwrapped failures, and what bounds a drain.

Time is a fake clock shared by the manager, its lease and its controllers, so a test can step through a grace
period or a renew deadline.
"""

from __future__ import annotations

from typing import Any, cast

import anyio
import pytest
from anyio.abc import TaskStatus
from prometheus_client import CollectorRegistry

from controller.kube import KubeClient
from controller.kube.resources import CONFIG_MAPS
from controller.runtime.clock import FakeClock
from controller.runtime.controller import DEFAULT_SHUTDOWN_GRACE_PERIOD, Controller
from controller.runtime.leaderelection import LeaderElectionConfig, LeadershipLost
from controller.runtime.manager import CacheSyncTimeout, Manager, ManagerOptions
from controller.runtime.reflector import ReflectorMetrics
from controller.runtime.request import Request, Result
from tests.unit.runtime.fake_events import FakeEventSource, kube_object
from tests.unit.runtime.fake_leases import FakeLeases
from tests.unit.runtime.fake_source import FakeSource

LEASE = LeaderElectionConfig(namespace="ns", name="llmkube", identity="me")  # 15 s / 10 s / 2 s


class Stage:
    def __init__(self, name: str, journal: list[str]) -> None:
        self.name = name
        self.journal = journal

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self.journal.append(f"start {self.name}")
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            self.journal.append(f"stop {self.name}")


class StuckReconciler:
    """Never finishes a reconcile on its own; records which ones started and which were cancelled."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.cancelled: list[str] = []

    async def reconcile(self, request: Request) -> Result:
        self.started.append(request.name)
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            self.cancelled.append(request.name)
            raise
        return Result()


def manager(
    client: object, registry: CollectorRegistry, *, clock: FakeClock | None = None, **options: Any
) -> Manager:
    opts = ManagerOptions(health_port=0, handle_signals=False, **options)
    return Manager(cast(KubeClient, client), options=opts, registry=registry, clock=clock)


def add_controller(
    mgr: Manager, reconciler: StuckReconciler, *, clock: FakeClock, registry: CollectorRegistry
) -> FakeEventSource:
    """A controller with the default (30 s) grace period on `mgr`; returns its event source."""
    source = FakeEventSource()
    mgr.add(Controller(name="model", reconciler=reconciler, clock=clock, registry=registry).for_(source))
    return source


async def step(clock: FakeClock, seconds: float) -> None:
    clock.step(seconds)
    await anyio.wait_all_tasks_blocked()


async def test_stops_controllers_before_caches_and_caches_before_probes(registry: CollectorRegistry) -> None:
    journal: list[str] = []
    mgr = manager(object(), registry)
    mgr.add(Stage("controller", journal))
    mgr.add(Stage("cache-side", journal), needs_leader=False)
    async with anyio.create_task_group() as tg:
        await tg.start(mgr.run)
        mgr.stop()
    assert journal == ["start cache-side", "start controller", "stop controller", "stop cache-side"]


async def test_cache_sync_timeout_surfaces_unwrapped_and_names_the_resource(
    registry: CollectorRegistry,
) -> None:
    source = FakeSource(lists=[], watches=[])  # the LIST never answers
    mgr = manager(source, registry, cache_sync_timeout=0.2)
    mgr.informer(CONFIG_MAPS, metrics=ReflectorMetrics(registry))
    with pytest.raises(CacheSyncTimeout, match="configmaps"):
        await mgr.run()


async def test_losing_the_lease_cancels_a_running_reconcile_at_once(
    registry: CollectorRegistry, clock: FakeClock
) -> None:
    leases = FakeLeases()
    mgr = manager(leases, registry, clock=clock, leader_election=LEASE)
    reconciler = StuckReconciler()
    source = add_controller(mgr, reconciler, clock=clock, registry=registry)
    outcome: list[BaseException] = []

    async def run_manager() -> None:
        try:
            await mgr.run()
        except LeadershipLost as lost:
            outcome.append(lost)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_manager)
        await anyio.wait_all_tasks_blocked()
        assert mgr.is_leader()
        source.add(kube_object("llama"))
        await anyio.wait_all_tasks_blocked()
        assert reconciler.started == ["llama"]

        leases.down = True
        for _ in range(int(LEASE.renew_deadline + 2 * LEASE.retry_period)):
            await step(clock, 1)
            if not mgr.is_leader():
                break
        assert not mgr.is_leader()
        cancelled_when_lost, ended_when_lost = list(reconciler.cancelled), list(outcome)
        clock.step(
            DEFAULT_SHUTDOWN_GRACE_PERIOD
        )  # lets a drain that ignored the loss run out, so the test ends

    assert cancelled_when_lost == ["llama"]
    assert len(ended_when_lost) == 1


async def test_the_managers_grace_period_bounds_a_controllers_drain(
    registry: CollectorRegistry, clock: FakeClock
) -> None:
    mgr = manager(object(), registry, clock=clock, graceful_shutdown_timeout=5)
    reconciler = StuckReconciler()
    source = add_controller(mgr, reconciler, clock=clock, registry=registry)

    async with anyio.create_task_group() as tg:
        await tg.start(mgr.run)
        source.add(kube_object("llama"))
        await anyio.wait_all_tasks_blocked()
        mgr.stop()
        await anyio.wait_all_tasks_blocked()
        await step(clock, 4.5)
        assert reconciler.cancelled == []
        await step(clock, 0.5)
        cancelled_at_grace = list(reconciler.cancelled)
        clock.step(
            DEFAULT_SHUTDOWN_GRACE_PERIOD
        )  # lets a drain that ignored the grace run out, so the test ends

    assert cancelled_at_grace == ["llama"]


def test_a_shared_informer_refuses_a_user_asking_for_another_transform(registry: CollectorRegistry) -> None:
    def keep_all(obj: dict[str, Any]) -> dict[str, Any]:
        return obj

    mgr = manager(FakeSource(lists=[], watches=[]), registry)
    first = mgr.informer(CONFIG_MAPS, namespace="ns", transform=keep_all)
    assert mgr.informer(CONFIG_MAPS, namespace="ns", transform=keep_all) is first
    with pytest.raises(ValueError, match="another transform"):
        mgr.informer(CONFIG_MAPS, namespace="ns")


def leader_status_of(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("leader_election_master_status", {"name": LEASE.name})


async def test_leader_status_is_one_while_leading_and_zero_before_and_after(
    registry: CollectorRegistry, clock: FakeClock
) -> None:
    mgr = manager(FakeLeases(), registry, clock=clock, leader_election=LEASE)
    assert leader_status_of(registry) == 0

    async with anyio.create_task_group() as tg:
        await tg.start(mgr.run)
        await anyio.wait_all_tasks_blocked()
        assert mgr.is_leader()
        leading = leader_status_of(registry)
        mgr.stop()

    assert leading == 1
    assert leader_status_of(registry) == 0


async def test_leader_status_drops_to_zero_when_the_lease_is_lost(
    registry: CollectorRegistry, clock: FakeClock
) -> None:
    leases = FakeLeases()
    mgr = manager(leases, registry, clock=clock, leader_election=LEASE)

    async def run_manager() -> None:
        with pytest.raises(LeadershipLost):
            await mgr.run()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_manager)
        await anyio.wait_all_tasks_blocked()
        assert leader_status_of(registry) == 1
        leases.down = True
        for _ in range(int(LEASE.renew_deadline + 2 * LEASE.retry_period)):
            await step(clock, 1)
            if not mgr.is_leader():
                break

    assert leader_status_of(registry) == 0


def test_a_manager_without_leader_election_exports_no_leader_status(registry: CollectorRegistry) -> None:
    manager(object(), registry)

    assert leader_status_of(registry) is None
