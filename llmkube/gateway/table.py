"""The gateway's routing table: one entry per exposed InferenceService, with its live admission state.

Informer handlers call `refresh(key, isvc, slices)` whenever a service or one of its EndpointSlices changes; the
entry's route is recomputed and its gate's capacity follows, which is what admits requests held while a service
wakes or a replica comes up. Everything else reads: the proxy resolves a request's `model`, the idler walks the
entries.

A request's `model` is the InferenceService's name. When the gateway serves several namespaces and a name exists
in more than one, the client must write `namespace/name`; `/v1/models` lists such names in that form.

Runtime state lives in `ServiceState` and survives route changes (a ready endpoint appearing keeps the queue and
the in-flight counts); it is dropped when the service is deleted or stops matching the gateway's selector.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from llmkube.gateway import errors
from llmkube.gateway.admission import Gate
from llmkube.gateway.metrics import GatewayMetrics, ServiceLoad
from llmkube.gateway.routes import Route

log = structlog.get_logger(__name__)

WallClock = Callable[[], float]

#: After this long the cache is trusted again even if it never showed our own scale-down's version.
ASLEEP_GRACE_SECONDS = 10.0


class ServiceState:
    """What one gateway replica knows about one service beyond its cached objects."""

    def __init__(self, route: Route, *, queue_limit: int, now: float) -> None:
        self.route = route
        self.gate = Gate(queue_limit=queue_limit, capacity=route.capacity)
        #: Requests this replica has sent to each upstream (host:port) and not seen finish.
        self.outstanding: dict[str, int] = {}
        #: Rotates ties between equally idle upstreams.
        self.turn = 0
        #: Unix time of the last request this replica started or finished for the service.
        self.last_request: float | None = None
        #: Unix time the service last went from no capacity to some (None while it has none).
        self.ready_since: float | None = now if route.capacity else None
        #: Unix time this replica first saw the service.
        self.seen_since = now
        #: Unix time a wake began, while one is under way; the wake ends when a replica is ready.
        self.waking_since: float | None = None
        #: Monotonic time this replica last wrote a wake, so requests during the cache's lag do not repeat it.
        self.wake_written: float | None = None
        #: Set when this replica scaled the service to zero, until the cache shows it (or a grace period
        #: passed): meanwhile the cache still lists servers that are being stopped, so nothing is sent there.
        self.asleep_version: str | None = None
        self.asleep_since: float | None = None
        #: Unix time the last wake ended, and how long it took (what held requests report).
        self.woke_at: float | None = None
        self.last_wake_seconds: float | None = None

    @property
    def asleep(self) -> bool:
        return self.asleep_version is not None or self.route.replicas == 0

    def fell_asleep(self, *, version: str, now: float) -> None:
        """This replica just scaled the service to zero; `version` is the resourceVersion of that write."""
        self.asleep_version = version
        self.asleep_since = now
        self.gate.set_capacity(0)

    @property
    def busy(self) -> bool:
        return self.gate.busy


class RouteTable:
    def __init__(
        self, *, queue_limit: int, metrics: GatewayMetrics, wall_clock: WallClock = time.time
    ) -> None:
        self._queue_limit = queue_limit
        self._metrics = metrics
        self._now = wall_clock
        self._entries: dict[str, ServiceState] = {}
        # name -> keys (namespace/name) of the entries with that name, for requests that give a bare name.
        self._by_name: dict[str, set[str]] = {}
        metrics.report_load(self._loads)

    def _loads(self) -> list[ServiceLoad]:
        return [
            ServiceLoad(
                namespace=s.route.namespace,
                model=s.route.name,
                in_flight=s.gate.in_flight,
                waiting=s.gate.waiting,
                capacity=s.gate.capacity,
            )
            for s in self._entries.values()
        ]

    # -- reads ------------------------------------------------------------------------------------------------

    def entries(self) -> list[ServiceState]:
        return [self._entries[key] for key in sorted(self._entries)]

    def get(self, key: str) -> ServiceState | None:
        return self._entries.get(key)

    def model_id(self, route: Route) -> str:
        """The id `/v1/models` lists: the bare name unless another namespace has a service of that name too."""
        return route.name if len(self._by_name.get(route.name, ())) == 1 else route.key

    def resolve(self, model: str) -> ServiceState:
        """The entry a request's `model` names; raises GatewayError 404 (unknown) or 400 (ambiguous)."""
        found = self._entries.get(model)
        if found is not None:
            return found
        keys = self._by_name.get(model, set())
        if len(keys) == 1:
            return self._entries[next(iter(keys))]
        if len(keys) > 1:
            raise errors.ambiguous_model(model, namespaces=[key.partition("/")[0] for key in keys])
        raise errors.model_not_found(model, known=[self.model_id(e.route) for e in self._entries.values()])

    # -- writes (informer handlers) ---------------------------------------------------------------------------

    def refresh(self, key: str, route: Route | None) -> None:
        """Install the latest route for `key` (None: the service is gone or no longer exposed)."""
        if route is None:
            self._remove(key)
            return
        now = self._now()
        state = self._entries.get(key)
        if state is None:
            state = ServiceState(route, queue_limit=self._queue_limit, now=now)
            self._entries[key] = state
            self._by_name.setdefault(route.name, set()).add(key)
            log.info("routing to service", service=key, ready=len(route.ready), capacity=route.capacity)
        else:
            self._update(state, route, now=now)

    def _update(self, state: ServiceState, route: Route, *, now: float) -> None:
        had_capacity = state.gate.capacity > 0
        state.route = route
        if state.asleep_version is not None and (
            route.replicas == 0
            or route.resource_version == state.asleep_version
            or now - (state.asleep_since or now) > ASLEEP_GRACE_SECONDS
        ):
            state.asleep_version = state.asleep_since = None  # the cache has caught up with the scale-down
        capacity = 0 if state.asleep_version is not None else route.capacity
        if capacity and not had_capacity:
            state.ready_since = now
            if state.waking_since is not None:
                self._woke(state, now=now)
        elif not capacity:
            state.ready_since = None
        # Forget counts of upstreams that are gone, so a returning address starts from zero.
        live = {u.key for u in route.ready}
        for gone in [k for k, n in state.outstanding.items() if k not in live and n == 0]:
            del state.outstanding[gone]
        state.gate.set_capacity(capacity)

    def _woke(self, state: ServiceState, *, now: float) -> None:
        assert state.waking_since is not None
        took = now - state.waking_since
        state.waking_since = None
        state.woke_at = now
        state.last_wake_seconds = took
        self._metrics.wake_time.labels(state.route.namespace, state.route.name).observe(took)
        log.info("service woke", service=state.route.key, seconds=round(took, 3))

    def _remove(self, key: str) -> None:
        state = self._entries.pop(key, None)
        if state is None:
            return
        name = state.route.name
        keys = self._by_name.get(name)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_name[name]
        # Whoever waits is told there is no capacity any more; their wait limit ends the wait.
        state.gate.set_capacity(0)
        log.info("no longer routing to service", service=key)
