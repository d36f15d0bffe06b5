"""The kube client against a real apiserver: CRUD, apply, patches, pagination, typed errors, raw watches."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from controller.kube import AlreadyExists, EventRecorder, Gone, Invalid, KubeClient, NotFound, Resource
from controller.kube.resources import CONFIG_MAPS, EVENTS
from tests.integration.runtime.conftest import call_cluster

pytestmark = pytest.mark.cluster


def configmap(name: str, namespace: str, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "data": data}


async def test_create_get_patch_delete_round_trip(kube: KubeClient, namespace: str) -> None:
    created = await kube.create(CONFIG_MAPS, configmap("a", namespace, x="1"))
    assert created["kind"] == "ConfigMap"
    patched = await kube.merge_patch(CONFIG_MAPS, "a", {"data": {"y": "2"}}, namespace=namespace)
    assert patched["data"] == {"x": "1", "y": "2"}
    assert (await kube.get(CONFIG_MAPS, "a", namespace=namespace))["data"]["y"] == "2"
    await kube.delete(CONFIG_MAPS, "a", namespace=namespace)
    with pytest.raises(NotFound):
        await kube.get(CONFIG_MAPS, "a", namespace=namespace)


async def test_creating_a_taken_name_raises_already_exists(kube: KubeClient, namespace: str) -> None:
    await kube.create(CONFIG_MAPS, configmap("a", namespace))
    with pytest.raises(AlreadyExists):
        await kube.create(CONFIG_MAPS, configmap("a", namespace))


async def test_server_side_apply_removes_fields_the_manager_dropped(kube: KubeClient, namespace: str) -> None:
    await kube.apply(CONFIG_MAPS, {**configmap("a", namespace, x="1", y="2")}, field_manager="llmkube")
    applied = await kube.apply(CONFIG_MAPS, configmap("a", namespace, x="1"), field_manager="llmkube")
    assert applied["data"] == {"x": "1"}
    managers = [m["manager"] for m in applied["metadata"]["managedFields"]]
    assert managers == ["llmkube"]


async def test_server_side_apply_carries_any_unicode_text(kube: KubeClient, namespace: str) -> None:
    # Characters beyond U+FFFF (an emoji), a quote, a backslash, C0 and C1 controls and a non-character: once
    # refused by the apply patch's YAML parser ("invalid Unicode character escape code", "control characters").
    text = 'model \U0001f600 \U000fc123 " \\ \x01 \x85 \x9f \ufffe é'
    applied = await kube.apply(CONFIG_MAPS, configmap("u", namespace, x=text), field_manager="llmkube")
    assert applied["data"] == {"x": text}
    status = await kube.apply(CONFIG_MAPS, configmap("u", namespace, x=text), field_manager="llmkube")
    assert status["metadata"]["resourceVersion"] == applied["metadata"]["resourceVersion"]


async def test_invalid_object_error_names_the_field(
    kube: KubeClient, namespace: str, widgets: Resource
) -> None:
    bad = {"metadata": {"name": "w", "namespace": namespace}, "spec": {"size": 99}}
    with pytest.raises(Invalid, match=r"spec\.size"):
        await kube.create(widgets, bad)


async def test_status_is_written_through_the_subresource_only(
    kube: KubeClient, namespace: str, widgets: Resource
) -> None:
    await kube.create(widgets, {"metadata": {"name": "w", "namespace": namespace}, "spec": {"size": 1}})
    ignored = await kube.merge_patch(widgets, "w", {"status": {"phase": "Ignored"}}, namespace=namespace)
    assert "status" not in ignored
    await kube.patch_status(widgets, "w", {"status": {"phase": "Merged"}}, namespace=namespace)
    applied = await kube.apply_status(
        widgets,
        {
            "apiVersion": widgets.api_version,
            "kind": "Widget",
            "metadata": {"name": "w", "namespace": namespace},
            "status": {"phase": "Applied"},
        },
        field_manager="llmkube",
    )
    assert applied["status"]["phase"] == "Applied"
    assert applied["metadata"]["generation"] == 1


async def test_list_follows_continue_tokens_across_pages(kube: KubeClient, namespace: str) -> None:
    for index in range(7):
        await kube.create(CONFIG_MAPS, configmap(f"cm-{index}", namespace))
    listed = await kube.list(CONFIG_MAPS, namespace=namespace, page_size=3, resource_version="")
    names = sorted(o["metadata"]["name"] for o in listed.items if o["metadata"]["name"].startswith("cm-"))
    assert names == [f"cm-{i}" for i in range(7)]
    assert listed.resource_version
    assert all(o["kind"] == "ConfigMap" for o in listed.items)


async def test_watch_streams_events_from_the_list_version(kube: KubeClient, namespace: str) -> None:
    start = await kube.list(CONFIG_MAPS, namespace=namespace)
    async with kube.watch(
        CONFIG_MAPS, namespace=namespace, resource_version=start.resource_version, timeout_seconds=30
    ) as stream:
        await kube.create(CONFIG_MAPS, configmap("w", namespace))
        with anyio.fail_after(10):
            async for event in stream:
                # kube-controller-manager may publish the namespace's kube-root-ca.crt after the list: skip it.
                if event.type != "BOOKMARK" and event.object["metadata"]["name"] == "w":
                    break
    assert event.type == "ADDED"


async def test_watch_from_a_compacted_version_raises_gone(
    kube: KubeClient, namespace: str, owned_cluster: Any
) -> None:
    old = (await kube.list(CONFIG_MAPS, namespace=namespace, resource_version="")).resource_version
    for index in range(5):
        await kube.create(CONFIG_MAPS, configmap(f"churn-{index}", namespace))
    # Compaction makes etcd forget `old`; the restart makes the apiserver's watch cache forget it too.
    await call_cluster(owned_cluster.compact_etcd)
    await call_cluster(owned_cluster.restart_apiserver)
    with pytest.raises(Gone):
        await drain_watch(kube, namespace, resource_version=old)


async def drain_watch(kube: KubeClient, namespace: str, *, resource_version: str) -> None:
    async with kube.watch(
        CONFIG_MAPS, namespace=namespace, resource_version=resource_version, timeout_seconds=10
    ) as stream:
        with anyio.fail_after(10):
            async for _ in stream:
                pass


async def test_repeated_event_is_folded_into_one_with_a_count(kube: KubeClient, namespace: str) -> None:
    subject = await kube.create(CONFIG_MAPS, configmap("subject", namespace))
    recorder = EventRecorder(kube, component="llmkube-test")
    for _ in range(3):
        await recorder.record(subject, type="Warning", reason="Testing", message="same thing again")
    events = (
        await kube.list(EVENTS, namespace=namespace, field_selector="involvedObject.name=subject")
    ).items
    assert [(e["reason"], e["count"]) for e in events] == [("Testing", 3)]
