"""The Events a controller posted about an object, as tests count them."""

from __future__ import annotations

from controller.kube import KubeClient
from controller.kube.resources import EVENTS


async def event_reasons(kube: KubeClient, namespace: str, name: str) -> dict[str, int]:
    """Reason -> count of the Events about the object called `name`, repeats included."""
    events = await kube.list(EVENTS, namespace=namespace, field_selector=f"involvedObject.name={name}")
    counts: dict[str, int] = {}
    for event in events.items:
        counts[event["reason"]] = counts.get(event["reason"], 0) + int(event.get("count") or 1)
    return counts
