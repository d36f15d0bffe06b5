"""Kubernetes Events for `kubectl describe`, deduplicated.

A level-based reconciler passes the same state many times and would post the same "WaitingForModel" Event on
every pass. Like client-go's event correlator, identical Events (same object, type, reason and message) are
folded into one whose `count` and `lastTimestamp` grow, so `kubectl describe` shows "x12 over 5m" instead of a
wall of copies. Events are best effort: a failure to post one is logged, never raised into a reconcile.

Core v1 Events are used because every kubectl version renders their count; events.k8s.io/v1 would need a series.

A controller runs the recorder as a background task (`run`, added to the manager): `record` then only queues the
Event, and one task posts them in order. A reconcile's own writes (the Deployment, the status) thus never wait
behind the Events about them, which matters when hundreds of services arrive at once; Events are also the first
thing to give way when the API server is busy, as client-go's broadcaster drops them when its buffer is full.
While the recorder is not running (the host agent, a test), `record` posts at once.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

import anyio
import attrs
import structlog
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectSendStream

from api.objects import Object, metadata
from controller.kube.client import KubeClient
from controller.kube.errors import KubeError, NotFound
from controller.kube.resources import EVENTS

EventType = Literal["Normal", "Warning"]

log = structlog.get_logger(__name__)


@attrs.frozen
class _Identity:
    involved: tuple[str, str, str, str]
    type: str
    reason: str
    message: str


@attrs.frozen
class _Pending:
    involved: dict[str, str]
    identity: _Identity
    now: str


@attrs.define
class _Posted:
    namespace: str
    name: str
    count: int


def _now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    """Posts Events about objects; repeats of an identical Event bump its count instead of creating another."""

    def __init__(
        self,
        client: KubeClient,
        *,
        component: str,
        instance: str = "",
        cache_size: int = 4096,
        buffer_size: int = 1024,
        now: Callable[[], datetime] = _now,
    ) -> None:
        self._client = client
        self._component = component
        self._instance = instance or component
        self._now = now
        self._cache_size = cache_size
        # Least recently posted first; bounded so a long-running controller does not grow without limit.
        self._posted: OrderedDict[_Identity, _Posted] = OrderedDict()
        self._buffer_size = buffer_size
        # Set while `run` posts in the background; None means `record` posts by itself.
        self._outbox: MemoryObjectSendStream[_Pending] | None = None

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Post queued Events in order until cancelled; Events still queued then are dropped (best effort)."""
        send, receive = anyio.create_memory_object_stream[_Pending](self._buffer_size)
        self._outbox = send
        try:
            task_status.started()
            async with receive:
                async for pending in receive:
                    await self._post(pending)
        finally:
            self._outbox = None
            send.close()

    async def record(self, obj: Object, *, type: EventType, reason: str, message: str) -> None:
        meta = metadata(obj)
        involved = {
            "apiVersion": obj.get("apiVersion", ""),
            "kind": obj.get("kind", ""),
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "uid": meta.get("uid", ""),
        }
        identity = _Identity(
            involved=(involved["kind"], involved["namespace"], involved["name"], involved["uid"]),
            type=type,
            reason=reason,
            message=message[:1024],
        )
        pending = _Pending(involved=involved, identity=identity, now=rfc3339(self._now()))
        if self._outbox is None:
            await self._post(pending)
            return
        try:
            self._outbox.send_nowait(pending)
        except anyio.WouldBlock:
            log.warning("event dropped: too many queued", reason=reason, object=involved["name"])

    async def _post(self, pending: _Pending) -> None:
        involved, identity, now = pending.involved, pending.identity, pending.now
        try:
            posted = self._posted.get(identity)
            if posted is not None and await self._bump(posted, now):
                self._posted.move_to_end(identity)
                return
            self._remember(identity, await self._create(involved, identity, now))
        except KubeError as err:
            log.warning("event not recorded", reason=identity.reason, object=involved["name"], error=str(err))

    async def _bump(self, posted: _Posted, now: str) -> bool:
        try:
            await self._client.merge_patch(
                EVENTS,
                posted.name,
                {"count": posted.count + 1, "lastTimestamp": now},
                namespace=posted.namespace,
            )
        except NotFound:
            return False  # expired by the apiserver's event TTL; post a fresh one
        posted.count += 1
        return True

    async def _create(self, involved: dict[str, str], identity: _Identity, now: str) -> _Posted:
        namespace = involved["namespace"] or "default"
        name = f"{involved['name'] or 'object'}.{secrets.token_hex(8)}"
        body = {
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {k: v for k, v in involved.items() if v},
            "type": identity.type,
            "reason": identity.reason,
            "message": identity.message,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": self._component},
            "reportingComponent": self._component,
            "reportingInstance": self._instance,
        }
        await self._client.create(EVENTS, body, namespace=namespace)
        return _Posted(namespace=namespace, name=name, count=1)

    def _remember(self, identity: _Identity, posted: _Posted) -> None:
        self._posted[identity] = posted
        self._posted.move_to_end(identity)
        while len(self._posted) > self._cache_size:
            self._posted.popitem(last=False)
