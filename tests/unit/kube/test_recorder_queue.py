"""A running recorder queues Events and posts them in order in the background; a stopped one posts at once."""

from __future__ import annotations

from typing import Any, cast

import anyio

from controller.kube import KubeClient
from controller.kube.recorder import EventRecorder

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "chat", "namespace": "ns", "uid": "u"}}


class SlowEvents:
    """Takes Event creates only when the test lets one through, and notes their reasons in order."""

    def __init__(self, *, expect: int = 1) -> None:
        self.created: list[str] = []
        self.gate = anyio.Event()
        self.all_created = anyio.Event()
        self._expect = expect

    async def create(self, resource: Any, body: dict[str, Any], *, namespace: str | None = None) -> Any:
        await self.gate.wait()
        self.created.append(body["reason"])
        if len(self.created) >= self._expect:
            self.all_created.set()
        return body


def recorder(client: SlowEvents) -> EventRecorder:
    return EventRecorder(cast(KubeClient, client), component="test")


async def test_record_returns_before_the_event_is_posted_while_the_recorder_runs() -> None:
    client = SlowEvents(expect=2)
    events = recorder(client)
    async with anyio.create_task_group() as tg:
        await tg.start(events.run)
        with anyio.fail_after(5):
            await events.record(SERVICE, type="Normal", reason="Created", message="created")
            await events.record(SERVICE, type="Normal", reason="Ready", message="ready")
        assert client.created == []
        client.gate.set()
        with anyio.fail_after(5):
            await client.all_created.wait()
        tg.cancel_scope.cancel()
    assert client.created == ["Created", "Ready"]


async def test_record_posts_at_once_when_the_recorder_is_not_running() -> None:
    client = SlowEvents()
    client.gate.set()
    await recorder(client).record(SERVICE, type="Normal", reason="Created", message="created")
    assert client.created == ["Created"]


async def test_a_full_buffer_drops_events_instead_of_blocking_the_reconcile() -> None:
    client = SlowEvents()
    events = EventRecorder(cast(KubeClient, client), component="test", buffer_size=1)
    async with anyio.create_task_group() as tg:
        await tg.start(events.run)
        with anyio.fail_after(5):
            for index in range(5):
                await events.record(SERVICE, type="Normal", reason=f"R{index}", message="m")
        tg.cancel_scope.cancel()
    assert client.created == []
