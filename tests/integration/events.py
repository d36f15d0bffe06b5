"""The Events a controller posted about an object, as tests count them."""

from __future__ import annotations

import re

from controller.kube import KubeClient
from controller.kube.resources import EVENTS


async def event_reasons(kube: KubeClient, namespace: str, name: str) -> dict[str, int]:
    """Reason -> count of the Events about the object called `name`, repeats included."""
    events = await kube.list(EVENTS, namespace=namespace, field_selector=f"involvedObject.name={name}")
    counts: dict[str, int] = {}
    for event in events.items:
        counts[event["reason"]] = counts.get(event["reason"], 0) + int(event.get("count") or 1)
    return counts


#: "A -> A": an Event that reports a state moving to itself, which says nothing new.
SELF_TRANSITION = re.compile(r"\b(\w+) -> \1\b")


async def event_messages(kube: KubeClient, namespace: str, name: str) -> list[str]:
    """The messages of the Events about the object called `name`."""
    events = await kube.list(EVENTS, namespace=namespace, field_selector=f"involvedObject.name={name}")
    return [str(event.get("message") or "") for event in events.items]


def self_transitions(messages: list[str]) -> list[str]:
    return [message for message in messages if SELF_TRANSITION.search(message)]
