"""The controller's mechanics, driven by an in-memory event source and a fake clock.

A pure unit test: the event source stands in for an informer, and the reconciler follows a script of outcomes,
optionally blocking on a gate so a test can observe what happens while a reconcile runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
import structlog
from prometheus_client import CollectorRegistry

from controller.kube.errors import ConnectionFailed
from controller.runtime.clock import FakeClock
from controller.runtime.controller import (
    DEFAULT_SHUTDOWN_GRACE_PERIOD,
    CacheSyncTimeoutError,
    Controller,
)
from controller.runtime.request import Request, Result, TerminalError
from tests.unit.runtime.fake_events import FakeEventSource, kube_object, owner_ref

Outcome = Result | Exception


class ScriptedReconciler:
    def __init__(self) -> None:
        self.outcomes: dict[str, list[Outcome]] = {}
        self.gates: dict[str, anyio.Event] = {}
        self.calls: list[str] = []
        self.finished: list[str] = []
        self.cancelled: list[str] = []
        self.running: set[str] = set()
        self.most_running = 0
        self.overlapping: list[str] = []

    def script(self, name: str, *outcomes: Outcome) -> None:
        self.outcomes[name] = list(outcomes)

    def gate(self, name: str) -> anyio.Event:
        self.gates[name] = anyio.Event()
        return self.gates[name]

    async def reconcile(self, request: Request) -> Result:
        if request.name in self.running:
            self.overlapping.append(request.name)
        self.running.add(request.name)
        self.most_running = max(self.most_running, len(self.running))
        self.calls.append(request.name)
        try:
            gate = self.gates.get(request.name)
            if gate is not None:
                await gate.wait()
            else:
                await anyio.lowlevel.checkpoint()
        except anyio.get_cancelled_exc_class():
            self.cancelled.append(request.name)
            raise
        finally:
            self.running.discard(request.name)
        self.finished.append(request.name)
        script = self.outcomes.get(request.name)
        outcome = script.pop(0) if script else Result()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture
def reconciler() -> ScriptedReconciler:
    return ScriptedReconciler()


@pytest.fixture
def source() -> FakeEventSource:
    return FakeEventSource()


def new_controller(
    reconciler: ScriptedReconciler, clock: FakeClock, registry: CollectorRegistry, **options: Any
) -> Controller:
    return Controller(name="model", reconciler=reconciler, clock=clock, registry=registry, **options)


@pytest.fixture
def controller(
    reconciler: ScriptedReconciler, clock: FakeClock, registry: CollectorRegistry, source: FakeEventSource
) -> Controller:
    return new_controller(reconciler, clock, registry).for_(source)


@asynccontextmanager
async def running(controller: Controller) -> AsyncIterator[anyio.CancelScope]:
    """Run the controller; the yielded scope stops it (as a SIGTERM would), exiting waits for it to stop."""
    stop = anyio.CancelScope()

    async def run(*, task_status: anyio.abc.TaskStatus[None]) -> None:
        with stop:
            await controller.run(task_status=task_status)

    async with anyio.create_task_group() as tg:
        await tg.start(run)
        await anyio.wait_all_tasks_blocked()
        yield stop
        stop.cancel()


async def step(clock: FakeClock, seconds: float) -> None:
    clock.step(seconds)
    await anyio.wait_all_tasks_blocked()


def sample(registry: CollectorRegistry, metric: str, **labels: str) -> float | None:
    return registry.get_sample_value(metric, {"controller": "model", **labels})


async def test_reconciles_an_object_its_source_reports(
    controller: Controller, source: FakeEventSource, reconciler: ScriptedReconciler
) -> None:
    async with running(controller):
        source.add(kube_object("llama"))
        await anyio.wait_all_tasks_blocked()

    assert reconciler.calls == ["llama"]


async def test_requeues_with_growing_backoff_after_errors(
    controller: Controller, source: FakeEventSource, reconciler: ScriptedReconciler, clock: FakeClock
) -> None:
    reconciler.script("llama", RuntimeError("api down"), RuntimeError("api down"))
    async with running(controller):
        source.add(kube_object("llama"))
        await anyio.wait_all_tasks_blocked()

        await step(clock, 0.0049)
        assert len(reconciler.calls) == 1
        await step(clock, 0.0001)
        assert len(reconciler.calls) == 2
        await step(clock, 0.0099)
        assert len(reconciler.calls) == 2
        await step(clock, 0.0001)
        assert len(reconciler.calls) == 3


async def test_success_forgets_the_backoff(
    controller: Controller, source: FakeEventSource, reconciler: ScriptedReconciler, clock: FakeClock
) -> None:
    reconciler.script("llama", RuntimeError("api down"), Result())
    async with running(controller):
        source.add(kube_object("llama"))
        await anyio.wait_all_tasks_blocked()
        assert controller.queue.num_requeues(Request(namespace="default", name="llama")) == 1

        await step(clock, 0.005)
        assert controller.queue.num_requeues(Request(namespace="default", name="llama")) == 0


async def test_requeue_after_resets_the_backoff_and_reconciles_again_after_the_delay(
    controller: Controller, source: FakeEventSource, reconciler: ScriptedReconciler, clock: FakeClock
) -> None:
    reconciler.script("llama", RuntimeError("api down"), Result(requeue_after=30))
    async with running(controller):
        source.add(kube_object("llama"))
        await anyio.wait_all_tasks_blocked()
        await step(clock, 0.005)
        assert controller.queue.num_requeues(Request(namespace="default", name="llama")) == 0

        await step(clock, 29.9)
        assert len(reconciler.calls) == 2
        await step(clock, 0.2)
        assert len(reconciler.calls) == 3


async def test_drops_a_key_whose_reconcile_raised_a_terminal_error(
    controller: Controller, source: FakeEventSource, reconciler: ScriptedReconciler, clock: FakeClock
) -> None:
    reconciler.script("llama", TerminalError("spec.source is not a URL"))
    async with running(controller):
        source.add(kube_object("llama"))
        await anyio.wait_all_tasks_blocked()
        await step(clock, 2000)

    assert reconciler.calls == ["llama"]
    assert controller.queue.num_requeues(Request(namespace="default", name="llama")) == 0


async def test_treats_a_group_of_only_terminal_errors_as_terminal(
    controller: Controller, source: FakeEventSource, reconciler: ScriptedReconciler, clock: FakeClock
) -> None:
    reconciler.script("llama", ExceptionGroup("children", [TerminalError("bad"), TerminalError("worse")]))
    async with running(controller):
        source.add(kube_object("llama"))
        await anyio.wait_all_tasks_blocked()
        await step(clock, 2000)

    assert reconciler.calls == ["llama"]


async def test_a_worker_survives_a_failing_reconcile(
    controller: Controller, source: FakeEventSource, reconciler: ScriptedReconciler
) -> None:
    reconciler.script("broken", ValueError("bug"))
    async with running(controller):
        source.add(kube_object("broken"))
        source.add(kube_object("healthy"))
        await anyio.wait_all_tasks_blocked()

    assert reconciler.finished == ["broken", "healthy"]


async def test_never_reconciles_one_key_in_two_workers_at_once(
    reconciler: ScriptedReconciler, clock: FakeClock, registry: CollectorRegistry, source: FakeEventSource
) -> None:
    controller = new_controller(reconciler, clock, registry, max_concurrent_reconciles=4).for_(source)
    gate = reconciler.gate("llama")
    async with running(controller):
        source.add(kube_object("llama", generation=1))
        await anyio.wait_all_tasks_blocked()
        source.update(kube_object("llama", generation=1), kube_object("llama", generation=2))
        await anyio.wait_all_tasks_blocked()
        assert reconciler.calls == ["llama"], "the update must wait for the running reconcile"

        del reconciler.gates["llama"]
        gate.set()
        await anyio.wait_all_tasks_blocked()

    assert reconciler.calls == ["llama", "llama"]
    assert reconciler.overlapping == []


async def test_reconciles_different_keys_in_parallel(
    reconciler: ScriptedReconciler, clock: FakeClock, registry: CollectorRegistry, source: FakeEventSource
) -> None:
    controller = new_controller(reconciler, clock, registry, max_concurrent_reconciles=2).for_(source)
    gates = [reconciler.gate("a"), reconciler.gate("b")]
    async with running(controller):
        source.add(kube_object("a"))
        source.add(kube_object("b"))
        await anyio.wait_all_tasks_blocked()
        assert reconciler.running == {"a", "b"}
        assert sample(registry, "controller_runtime_active_workers") == 2
        for gate in gates:
            gate.set()


async def test_runs_no_more_reconciles_at_once_than_its_workers(
    controller: Controller, source: FakeEventSource, reconciler: ScriptedReconciler
) -> None:
    gate = reconciler.gate("a")
    async with running(controller):
        source.add(kube_object("a"))
        source.add(kube_object("b"))
        await anyio.wait_all_tasks_blocked()
        assert reconciler.calls == ["a"]
        gate.set()
        await anyio.wait_all_tasks_blocked()

    assert reconciler.most_running == 1
    assert reconciler.finished == ["a", "b"]


async def test_waits_for_its_sources_to_sync_before_reconciling(
    controller: Controller, source: FakeEventSource, reconciler: ScriptedReconciler, clock: FakeClock
) -> None:
    source.synced = False
    async with anyio.create_task_group() as tg:
        tg.start_soon(controller.run)
        source.add(kube_object("llama"))
        await step(clock, 1)
        assert reconciler.calls == []

        source.synced = True
        await step(clock, 0.1)
        assert reconciler.calls == ["llama"]
        tg.cancel_scope.cancel()


async def test_fails_when_its_sources_do_not_sync_in_time(
    reconciler: ScriptedReconciler, clock: FakeClock, registry: CollectorRegistry
) -> None:
    never_synced = FakeEventSource(synced=False)
    controller = new_controller(reconciler, clock, registry, cache_sync_timeout=1).for_(never_synced)

    async def advance_time() -> None:
        for _ in range(20):
            await step(clock, 0.1)

    async with anyio.create_task_group() as tg:
        tg.start_soon(advance_time)
        with pytest.raises(CacheSyncTimeoutError, match="caches not synced after 1 s"):
            await controller.run()


async def test_creates_every_series_at_zero_before_the_first_event(
    controller: Controller, registry: CollectorRegistry
) -> None:
    for result in ("success", "error", "requeue", "requeue_after"):
        assert sample(registry, "controller_runtime_reconcile_total", result=result) == 0
    assert sample(registry, "controller_runtime_reconcile_errors_total") == 0
    assert sample(registry, "controller_runtime_terminal_reconcile_errors_total") == 0
    assert sample(registry, "controller_runtime_reconcile_time_seconds_count") == 0
    assert sample(registry, "controller_runtime_active_workers") == 0
    assert sample(registry, "controller_runtime_max_concurrent_reconciles") == 1
    assert registry.get_sample_value("workqueue_depth", {"name": "model"}) == 0


async def test_counts_each_reconcile_by_its_result(
    controller: Controller,
    source: FakeEventSource,
    reconciler: ScriptedReconciler,
    registry: CollectorRegistry,
) -> None:
    reconciler.script("failing", RuntimeError("api down"))
    reconciler.script("invalid", TerminalError("bad spec"))
    reconciler.script("polling", Result(requeue_after=60))
    async with running(controller):
        for name in ("ok", "failing", "invalid", "polling"):
            source.add(kube_object(name))
        await anyio.wait_all_tasks_blocked()

    assert sample(registry, "controller_runtime_reconcile_total", result="success") == 1
    assert sample(registry, "controller_runtime_reconcile_total", result="error") == 2
    assert sample(registry, "controller_runtime_reconcile_total", result="requeue_after") == 1
    assert sample(registry, "controller_runtime_reconcile_errors_total") == 2
    assert sample(registry, "controller_runtime_terminal_reconcile_errors_total") == 1
    assert sample(registry, "controller_runtime_reconcile_time_seconds_count") == 4


async def test_observes_how_long_each_reconcile_took(
    controller: Controller,
    source: FakeEventSource,
    reconciler: ScriptedReconciler,
    registry: CollectorRegistry,
    clock: FakeClock,
) -> None:
    gate = reconciler.gate("llama")
    async with running(controller):
        source.add(kube_object("llama"))
        await anyio.wait_all_tasks_blocked()
        await step(clock, 0.3)
        gate.set()
        await anyio.wait_all_tasks_blocked()

    assert sample(registry, "controller_runtime_reconcile_time_seconds_sum") == pytest.approx(0.3)


async def test_logs_a_failed_reconcile_with_controller_key_and_reconcile_id(
    controller: Controller, source: FakeEventSource, reconciler: ScriptedReconciler
) -> None:
    reconciler.script("llama", RuntimeError("api down"))
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        async with running(controller):
            source.add(kube_object("llama", namespace="ml"))
            await anyio.wait_all_tasks_blocked()

    [failure] = [entry for entry in logs if entry["log_level"] == "error"]
    assert failure["controller"] == "model"
    assert failure["key"] == "ml/llama"
    assert len(failure["reconcile_id"]) == 12
    assert isinstance(failure["exc_info"], RuntimeError)


async def test_logs_a_transient_api_failure_as_a_warning_without_a_traceback(
    controller: Controller, source: FakeEventSource, reconciler: ScriptedReconciler
) -> None:
    reconciler.script("llama", ConnectionFailed("PATCH /apis/...: Server disconnected"))
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        async with running(controller):
            source.add(kube_object("llama", namespace="ml"))
            await anyio.wait_all_tasks_blocked()

    [failure] = [entry for entry in logs if entry["event"] == "reconcile failed; requeued with backoff"]
    assert (failure["log_level"], failure["error_type"], "exc_info" in failure) == (
        "warning",
        "ConnectionFailed",
        False,
    )
    assert failure["error"] == "PATCH /apis/...: Server disconnected"


async def test_stopping_lets_a_running_reconcile_finish_and_starts_no_new_one(
    controller: Controller, source: FakeEventSource, reconciler: ScriptedReconciler
) -> None:
    gate = reconciler.gate("running")
    async with running(controller) as stop:
        source.add(kube_object("running"))
        source.add(kube_object("queued"))
        await anyio.wait_all_tasks_blocked()

        stop.cancel()
        await anyio.wait_all_tasks_blocked()
        assert reconciler.running == {"running"}
        gate.set()

    assert reconciler.finished == ["running"]
    assert reconciler.cancelled == []


async def test_stopping_cancels_reconciles_still_running_after_the_grace_period(
    reconciler: ScriptedReconciler, clock: FakeClock, registry: CollectorRegistry, source: FakeEventSource
) -> None:
    controller = new_controller(reconciler, clock, registry, shutdown_grace_period=5).for_(source)
    reconciler.gate("stuck")
    async with running(controller) as stop:
        source.add(kube_object("stuck"))
        await anyio.wait_all_tasks_blocked()
        stop.cancel()
        await anyio.wait_all_tasks_blocked()
        await step(clock, 4.5)
        assert reconciler.cancelled == []
        await step(clock, 0.5)

    assert reconciler.cancelled == ["stuck"]


async def test_abort_cancels_running_reconciles_at_once_and_starts_no_new_one(
    controller: Controller, source: FakeEventSource, reconciler: ScriptedReconciler, clock: FakeClock
) -> None:
    reconciler.gate("running")
    async with running(controller) as stop:
        source.add(kube_object("running"))
        await anyio.wait_all_tasks_blocked()
        controller.abort()
        source.add(kube_object("queued"))
        stop.cancel()
        await anyio.wait_all_tasks_blocked()
        cancelled_at_once = list(reconciler.cancelled)
        clock.step(
            DEFAULT_SHUTDOWN_GRACE_PERIOD
        )  # lets a drain that ignored the abort run out, so the test ends

    assert cancelled_at_once == ["running"]
    assert reconciler.calls == ["running"]


async def test_primary_updates_that_keep_the_generation_are_skipped_by_default(
    controller: Controller, source: FakeEventSource, reconciler: ScriptedReconciler
) -> None:
    async with running(controller):
        source.update(kube_object("llama", generation=3), kube_object("llama", generation=3))
        await anyio.wait_all_tasks_blocked()

    assert reconciler.calls == []


async def test_primary_sees_every_update_without_predicates(
    reconciler: ScriptedReconciler, clock: FakeClock, registry: CollectorRegistry, source: FakeEventSource
) -> None:
    controller = new_controller(reconciler, clock, registry).for_(source, predicates=())
    async with running(controller):
        source.update(kube_object("llama", generation=3), kube_object("llama", generation=3))
        await anyio.wait_all_tasks_blocked()

    assert reconciler.calls == ["llama"]


async def test_owns_reconciles_the_owner_of_a_changed_child(
    controller: Controller, reconciler: ScriptedReconciler
) -> None:
    jobs = FakeEventSource()
    controller.owns(jobs, owner_kind="Model", owner_group="inference.llmkube.dev")
    async with running(controller):
        jobs.delete(kube_object("llama-fetch", kind="Job", owners=[owner_ref("llama")]))
        await anyio.wait_all_tasks_blocked()

    assert reconciler.calls == ["llama"]


async def test_watches_reconciles_what_the_map_function_names(
    controller: Controller, reconciler: ScriptedReconciler
) -> None:
    secrets = FakeEventSource()
    controller.watches(secrets, lambda obj: [Request(namespace="ml", name="gated-model")])
    async with running(controller):
        secrets.add(kube_object("hf-token", kind="Secret"))
        await anyio.wait_all_tasks_blocked()

    assert reconciler.calls == ["gated-model"]


def test_refuses_sources_once_running_has_begun(controller: Controller) -> None:
    controller._started = True

    with pytest.raises(RuntimeError, match="add sources before it runs"):
        controller.for_(FakeEventSource())
