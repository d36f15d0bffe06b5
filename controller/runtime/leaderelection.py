"""Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics.

Only one replica may reconcile at a time. Each candidate reads the Lease; a lease held by someone else counts as
valid until `leaseDurationSeconds` have passed on *our* monotonic clock since *we* last saw its record change.
Timestamps written by other replicas are never compared with our clock, so clock skew between nodes cannot let
two leaders overlap (a different clock *rate* still could: there is no fencing, as in client-go). The retry
sleeps and the renew deadline run on the same injected clock, so tests can step through a lost lease.

Writes carry the resourceVersion we read (a PUT), so of two candidates racing for a free lease one gets 409
Conflict and stays a follower. The leader renews every `retry_period`; if it cannot renew within
`renew_deadline` it stops leading and `run` raises `LeadershipLost`, which must end the process's controllers at
once (the lease may already belong to another replica). On a clean shutdown the leader clears the holder so a
successor takes over immediately instead of waiting out the lease.

Defaults 15 s / 10 s / 2 s. A leader that cannot renew gives up 12 s after its last renewal (one retry period,
then the renew deadline), before any standby may take the lease (15 s after it saw that renewal). A crashed
leader is replaced 13-24 s after its death: the standby may see the last renewal up to one jittered retry period
(4.4 s) late and takes over at its first retry after expiry, up to 4.4 s late again; 15.2-19.4 s measured.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import attrs
import structlog
from anyio.abc import TaskStatus

from controller.kube import KubeClient, KubeError, NotFound
from controller.kube.resources import LEASES
from controller.runtime.clock import Clock, MonotonicClock, finish_by

log = structlog.get_logger(__name__)

_JITTER = 1.2


class LeadershipLost(Exception):
    """The lease could not be renewed in time: another replica may be leading now."""


@attrs.frozen(kw_only=True)
class LeaderElectionConfig:
    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = True

    def __attrs_post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > _JITTER * self.retry_period > 0:
            raise ValueError(
                "leader election needs lease_duration > renew_deadline > 1.2 * retry_period > 0, got "
                f"{self.lease_duration} / {self.renew_deadline} / {self.retry_period}"
            )
        if not self.identity:
            raise ValueError("leader election needs a non-empty identity (pod name)")


def micro_time(moment: datetime) -> str:
    """The API's MicroTime format (RFC 3339 with microseconds, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_is_held_by_other(
    spec: dict[str, Any], *, identity: str, observed_at: float, now: float, default_duration: float
) -> bool:
    """Whether `spec` names another live holder, judged only by when *we* observed the record change."""
    holder = spec.get("holderIdentity") or ""
    if not holder or holder == identity:
        return False
    duration = float(spec.get("leaseDurationSeconds") or default_duration)
    return observed_at + duration > now


class LeaderElector:
    def __init__(
        self,
        client: KubeClient,
        config: LeaderElectionConfig,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
    ) -> None:
        self._client = client
        self._config = config
        self._clock = clock or MonotonicClock()
        self._rng = rng or random.Random()
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._leading = anyio.Event()
        self._is_leader = False
        # The last Lease we read or wrote, and when (our clock) its spec last changed.
        self._observed: dict[str, Any] | None = None
        self._observed_spec: dict[str, Any] | None = None
        self._observed_at = 0.0
        self._log = log.bind(lease=f"{config.namespace}/{config.name}", identity=config.identity)

    @property
    def identity(self) -> str:
        return self._config.identity

    def is_leader(self) -> bool:
        return self._is_leader

    async def wait_leading(self) -> None:
        await self._leading.wait()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Campaign, then lead until cancelled (releasing the lease) or until renewal fails (`LeadershipLost`)."""
        task_status.started()
        lost = False
        try:
            await self._acquire()
            self._is_leader = True
            self._leading.set()
            self._log.info("became leader")
            if self._on_started is not None:
                self._on_started()
            await self._renew_until_failure()
            lost = True
            self._log.error("leadership lost: lease not renewed within the renew deadline")
            raise LeadershipLost(
                f"lease {self._config.namespace}/{self._config.name} not renewed within "
                f"{self._config.renew_deadline:.0f}s"
            )
        finally:
            was_leader, self._is_leader = self._is_leader, False
            if was_leader:
                if not lost and self._config.release_on_cancel:
                    with anyio.CancelScope(shield=True):
                        await finish_by(
                            self._clock, self._clock.now() + self._config.renew_deadline, self._release
                        )
                if self._on_stopped is not None:
                    self._on_stopped()

    async def _acquire(self) -> None:
        while True:
            if await self._attempt():
                return
            await self._sleep(self._config.retry_period * (1.0 + _JITTER * self._rng.random()))

    async def _renew_until_failure(self) -> None:
        while True:
            deadline = self._clock.now() + self._config.renew_deadline
            if not await finish_by(self._clock, deadline, self._renew):
                return
            await self._sleep(self._config.retry_period)

    async def _renew(self) -> None:
        """Try every retry period until one renewal succeeds; `_renew_until_failure` bounds how long."""
        while not await self._attempt():
            await self._sleep(self._config.retry_period)

    async def _sleep(self, seconds: float) -> None:
        await self._clock.sleep_until(self._clock.now() + seconds)

    async def _attempt(self) -> bool:
        """One try to acquire or renew; False when someone else holds the lease or the API call failed."""
        try:
            return await self._try_acquire_or_renew()
        except KubeError as err:
            self._log.info("lease attempt failed", error=str(err))
            return False

    async def _try_acquire_or_renew(self) -> bool:
        cfg = self._config
        now_text = micro_time(datetime.now(UTC))
        # Fast path: while our own record is still valid, write over it without reading first.
        if self._is_leader and self._observed is not None and self._observed_valid():
            renewal = copy.deepcopy(self._observed)
            renewal["spec"]["renewTime"] = now_text
            try:
                self._observe(await self._client.replace(LEASES, renewal))
                return True
            except KubeError as err:
                self._log.info("lease renewal failed; rereading", error=str(err))
        try:
            lease = await self._client.get(LEASES, cfg.name, namespace=cfg.namespace)
        except NotFound:
            fresh = {
                "metadata": {"name": cfg.name, "namespace": cfg.namespace},
                "spec": self._spec(acquire_time=now_text, renew_time=now_text, transitions=0),
            }
            self._observe(await self._client.create(LEASES, fresh))
            return True
        self._observe(lease)
        spec: dict[str, Any] = lease.get("spec") or {}
        if lease_is_held_by_other(
            spec,
            identity=cfg.identity,
            observed_at=self._observed_at,
            now=self._clock.now(),
            default_duration=cfg.lease_duration,
        ):
            return False
        ours = spec.get("holderIdentity") == cfg.identity
        transitions = int(spec.get("leaseTransitions") or 0)
        claim = copy.deepcopy(lease)
        claim["spec"] = self._spec(
            acquire_time=str(spec.get("acquireTime") or now_text) if ours else now_text,
            renew_time=now_text,
            transitions=transitions if ours else transitions + 1,
        )
        self._observe(await self._client.replace(LEASES, claim))
        return True

    async def _release(self) -> None:
        if (
            self._observed is None
            or (self._observed.get("spec") or {}).get("holderIdentity") != self.identity
        ):
            return
        now_text = micro_time(datetime.now(UTC))
        released = copy.deepcopy(self._observed)
        released["spec"] = {
            "leaseDurationSeconds": 1,
            "acquireTime": now_text,
            "renewTime": now_text,
            "leaseTransitions": int(released["spec"].get("leaseTransitions") or 0),
        }
        try:
            await self._client.replace(LEASES, released)
            self._log.info("lease released")
        except KubeError as err:
            self._log.warning("lease release failed; successor waits for expiry", error=str(err))

    def _spec(self, *, acquire_time: str, renew_time: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self._config.identity,
            "leaseDurationSeconds": int(self._config.lease_duration),
            "acquireTime": acquire_time,
            "renewTime": renew_time,
            "leaseTransitions": transitions,
        }

    def _observe(self, lease: dict[str, Any]) -> None:
        spec = lease.get("spec") or {}
        if spec != self._observed_spec:
            self._observed_spec = copy.deepcopy(spec)
            self._observed_at = self._clock.now()
        self._observed = lease

    def _observed_valid(self) -> bool:
        return self._observed_at + self._config.lease_duration > self._clock.now()
