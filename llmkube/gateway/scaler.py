"""The gateway's writes to the cluster: wake a service (scale 0 -> 1), put an idle one to sleep (1+ -> 0), and
record traffic in the shared annotation. Decisions are in `idling`; this module only acts on them.

Both scale writes go through the InferenceService's scale subresource (what `kubectl scale` uses), so the gateway
needs no right to change anything else in a spec. The annotation is a merge patch of metadata only.

Waking is idempotent across requests and replicas: the first held request writes `replicas: 1` (only if the
cached spec says 0), later ones wait on the same write. A scale-down is conditional on the resourceVersion the
decision was made from; a conflict means something changed meanwhile and the next round decides again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import structlog
from anyio.abc import TaskStatus

from api.v1alpha1.well_known import GATEWAY_MANAGER, LAST_REQUEST_ANNOTATION
from controller.kube import Conflict, KubeClient, KubeError, NotFound
from controller.kube.resources import INFERENCE_SERVICES
from llmkube.gateway import errors
from llmkube.gateway.idling import format_time, heartbeat_due, idle_since, scale_down_blocker
from llmkube.gateway.metrics import GatewayMetrics
from llmkube.gateway.routes import Route
from llmkube.gateway.table import RouteTable, ServiceState

log = structlog.get_logger(__name__)

FIELD_MANAGER = GATEWAY_MANAGER
#: How often the idler looks at every scale-to-zero service.
IDLE_CHECK_INTERVAL = 1.0
#: A wake is written again only if the cache still shows zero this long after the last one.
REWAKE_AFTER = 5.0


class Waker:
    def __init__(
        self, client: KubeClient, *, metrics: GatewayMetrics, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._now = wall_clock
        # key -> the write under way, so concurrent first requests share one.
        self._writes: dict[str, anyio.Event] = {}
        self._failures: dict[str, str] = {}

    async def wake(self, state: ServiceState) -> None:
        """Make sure `state`'s service (at zero) is asked to run a replica; raises GatewayError if the API refuses.

        Concurrent first requests share one write. Right after it the cache may still show zero; the write is
        repeated only if zero is still shown `REWAKE_AFTER` seconds later (someone scaled it down again).
        """
        route = state.route
        pending = self._writes.get(route.key)
        if pending is not None:
            await pending.wait()
            failure = self._failures.get(route.key)
            if failure is not None:
                raise errors.unavailable(route.name, failure)
            return
        if state.wake_written is not None and time.monotonic() - state.wake_written < REWAKE_AFTER:
            return
        if state.waking_since is None:
            state.waking_since = self._now()
        done = anyio.Event()
        self._writes[route.key] = done
        self._failures.pop(route.key, None)
        try:
            await self._scale(route, replicas=1)
            state.wake_written = time.monotonic()
            state.asleep_version = state.asleep_since = None
            self._metrics.wakeups.labels(route.namespace, route.name).inc()
            log.info("waking service from zero", service=route.key)
        except KubeError as exc:
            state.waking_since = None
            message = f"scaling it up from zero failed: {exc}"
            self._failures[route.key] = message
            log.warning("cannot wake service", service=route.key, error=str(exc))
            raise errors.unavailable(route.name, message) from exc
        finally:
            del self._writes[route.key]
            done.set()

    async def _scale(self, route: Route, *, replicas: int) -> None:
        await self._client.merge_patch(
            INFERENCE_SERVICES,
            route.name,
            {"spec": {"replicas": replicas}},
            namespace=route.namespace,
            subresource="scale",
            field_manager=FIELD_MANAGER,
        )


class Idler:
    """Every second: share this replica's traffic, and scale to zero what has been idle long enough."""

    def __init__(
        self,
        client: KubeClient,
        *,
        table: RouteTable,
        metrics: GatewayMetrics,
        synced: Callable[[], bool],
        wall_clock: Callable[[], float] = time.time,
        interval: float = IDLE_CHECK_INTERVAL,
    ) -> None:
        self._client = client
        self._table = table
        self._metrics = metrics
        self._synced = synced
        self._now = wall_clock
        self._interval = interval

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await anyio.sleep(self._interval)
            if not self._synced():
                continue  # deciding from a half-filled cache could put a busy service to sleep
            for state in self._table.entries():
                if state.route.idle_seconds is None or state.asleep:
                    continue
                try:
                    await self.check(state)
                except KubeError as exc:
                    log.warning("idle check failed", service=state.route.key, error=str(exc))

    async def check(self, state: ServiceState) -> None:
        route = state.route
        now = self._now()
        local_last = now if state.busy else state.last_request
        if heartbeat_due(route, local_last_request=local_last):
            await self._heartbeat(route, at=local_last or now)
            return  # the write changed the resourceVersion: decide on the next round, from fresh state
        since = idle_since(
            route, local_last_request=local_last, ready_since=state.ready_since, seen_since=state.seen_since
        )
        blocker = scale_down_blocker(route, busy=state.busy, idle_since=since, now=now)
        if blocker is None:
            await self._scale_down(state, idle_for=now - since)

    async def _heartbeat(self, route: Route, *, at: float) -> None:
        try:
            await self._client.merge_patch(
                INFERENCE_SERVICES,
                route.name,
                {"metadata": {"annotations": {LAST_REQUEST_ANNOTATION: format_time(at)}}},
                namespace=route.namespace,
                field_manager=FIELD_MANAGER,
            )
        except NotFound:
            return

    async def _scale_down(self, state: ServiceState, *, idle_for: float) -> None:
        route = state.route
        try:
            scale = await self._client.merge_patch(
                INFERENCE_SERVICES,
                route.name,
                # The resourceVersion makes the write conditional on the state the decision was made from.
                {"metadata": {"resourceVersion": route.resource_version}, "spec": {"replicas": 0}},
                namespace=route.namespace,
                subresource="scale",
                field_manager=FIELD_MANAGER,
            )
        except (Conflict, NotFound):
            log.debug("scale-down skipped: the service changed meanwhile", service=route.key)
            return
        state.fell_asleep(
            version=str(scale.get("metadata", {}).get("resourceVersion") or ""), now=self._now()
        )
        self._metrics.scale_downs.labels(route.namespace, route.name).inc()
        log.info("scaled idle service to zero", service=route.key, idle_seconds=round(idle_for, 1))
