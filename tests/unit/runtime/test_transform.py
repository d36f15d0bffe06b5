"""Keep-list transforms: what they keep, drop and summarise, and that informers apply them before anyone looks."""

from __future__ import annotations

from typing import Any

import anyio
from prometheus_client import CollectorRegistry

from controller.kube import ObjectList
from controller.kube.resources import CONFIG_MAPS
from controller.runtime.clock import FakeClock
from controller.runtime.informer import Informer
from controller.runtime.reflector import ReflectorMetrics
from controller.runtime.transform import KEEP, OTHERS, keeping, pruned
from tests.unit.runtime.fake_source import FakeSource, RecordingHandler, cm, event


def test_keeps_only_the_listed_fields() -> None:
    obj = {"metadata": {"name": "a", "managedFields": [{"manager": "x"}]}, "spec": {"big": 1}, "status": {}}
    assert pruned(obj, {"metadata": {"name": KEEP}, "status": KEEP}) == {
        "metadata": {"name": "a"},
        "status": {},
    }


def test_others_rule_applies_to_every_field_not_named() -> None:
    obj = {"metadata": {"name": "a", "managedFields": []}, "rules": [1], "spec": {"x": 1}}
    kept = pruned(obj, {OTHERS: KEEP, "metadata": {"name": KEEP}})
    assert kept == {"metadata": {"name": "a"}, "rules": [1], "spec": {"x": 1}}


def test_a_nested_keep_list_prunes_every_mapping_of_a_list() -> None:
    obj = {"items": [{"name": "a", "noise": 1}, {"name": "b"}]}
    assert pruned(obj, {"items": {"name": KEEP}}) == {"items": [{"name": "a"}, {"name": "b"}]}


def test_a_summary_replaces_the_value_and_none_drops_the_field() -> None:
    keep = {"count": lambda v: len(v), "gone": lambda v: None}
    assert pruned({"count": [1, 2, 3], "gone": "x"}, keep) == {"count": 3}


def test_the_trimmed_copy_does_not_share_what_it_keeps_with_the_original() -> None:
    obj = {"metadata": {"labels": {"a": "1"}}}
    kept = keeping({"metadata": {"labels": KEEP}})(obj)
    obj["metadata"]["labels"]["a"] = "2"
    assert kept["metadata"]["labels"] == {"a": "1"}


def test_keys_are_shared_between_trimmed_objects() -> None:
    transform = keeping({OTHERS: KEEP})
    first = transform({"".join(["meta", "data"]): {}})
    second = transform({"".join(["meta", "da", "ta"]): {}})
    assert next(iter(first)) is next(iter(second))


def _only_names(obj: dict[str, Any]) -> dict[str, Any]:
    return keeping({"metadata": {"name": KEEP, "namespace": KEEP, "resourceVersion": KEEP}})(obj)


async def test_informer_caches_and_dispatches_only_trimmed_objects(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    source = FakeSource(
        lists=[ObjectList(items=[cm("a", "1"), cm("b", "1")], resource_version="5")],
        watches=[[event("MODIFIED", "a", "6"), event("ADDED", "c", "7")]],
    )
    inf = Informer(
        source, CONFIG_MAPS, clock=clock, metrics=ReflectorMetrics(registry), transform=_only_names
    )
    seen: list[dict[str, Any]] = []

    class Keep(RecordingHandler):
        def on_add(self, obj: dict[str, Any]) -> None:
            seen.append(obj)

        def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
            seen.append(new)

    inf.add_event_handler(Keep())
    async with anyio.create_task_group() as tg:
        await tg.start(inf.run)
        await source.exhausted.wait()
        tg.cancel_scope.cancel()
    assert len(seen) == 4
    assert all(set(obj) == {"metadata"} for obj in seen)
    assert all(set(obj) == {"metadata"} for obj in inf.store.list())
