"""The informer store: keys, replace diffs and secondary indexes."""

from __future__ import annotations

from typing import Any

import pytest

from controller.runtime.indexer import BY_CONTROLLER_UID, BY_OWNER_UID, field_index
from controller.runtime.store import Store, object_key


def obj(
    name: str, rv: str = "1", *, ns: str = "ns", owners: list[dict[str, Any]] | None = None, **spec: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "resourceVersion": rv}
    if owners:
        meta["ownerReferences"] = owners
    return {"metadata": meta, "spec": spec}


def test_key_is_namespace_slash_name_or_just_name_when_cluster_scoped() -> None:
    assert object_key(obj("a")) == "ns/a"
    assert object_key({"metadata": {"name": "node1"}}) == "node1"


def test_upsert_returns_the_replaced_object() -> None:
    store = Store()
    first = obj("a", "1")
    assert store.upsert(first) is None
    assert store.upsert(obj("a", "2")) is first
    assert store.get("ns/a") == obj("a", "2")


def test_replace_reports_deleted_updated_and_added() -> None:
    store = Store()
    store.upsert(obj("gone"))
    store.upsert(obj("same", "1"))
    store.upsert(obj("changed", "1"))
    diff = store.replace([obj("same", "1"), obj("changed", "2"), obj("new")])
    assert [object_key(o) for o in diff.deleted] == ["ns/gone"]
    assert [(object_key(old), new["metadata"]["resourceVersion"]) for old, new in diff.updated] == [
        ("ns/changed", "2")
    ]
    assert [object_key(o) for o in diff.added] == ["ns/new"]
    assert sorted(store.keys()) == ["ns/changed", "ns/new", "ns/same"]


def test_owner_index_finds_children_and_forgets_deleted_ones() -> None:
    store = Store()
    store.upsert(obj("child", owners=[{"uid": "u1", "controller": True}]))
    store.upsert(obj("other", owners=[{"uid": "u2"}]))
    assert [object_key(o) for o in store.by_index(BY_OWNER_UID, "u1")] == ["ns/child"]
    store.delete("ns/child")
    assert store.by_index(BY_OWNER_UID, "u1") == []


def test_controller_index_ignores_non_controller_owners() -> None:
    store = Store()
    store.upsert(obj("child", owners=[{"uid": "u1"}]))
    assert store.by_index(BY_CONTROLLER_UID, "u1") == []


def test_field_index_is_scoped_by_namespace() -> None:
    store = Store()
    store.add_index("spec.modelRef.name", field_index("spec.modelRef.name"))
    store.upsert(obj("svc-a", modelRef={"name": "llama"}))
    store.upsert(obj("svc-b", ns="other", modelRef={"name": "llama"}))
    assert [object_key(o) for o in store.by_index("spec.modelRef.name", "ns/llama")] == ["ns/svc-a"]


def test_index_follows_an_update_that_changes_the_value() -> None:
    store = Store()
    store.add_index("ref", field_index("spec.modelRef.name"))
    store.upsert(obj("svc", "1", modelRef={"name": "old"}))
    store.upsert(obj("svc", "2", modelRef={"name": "new"}))
    assert store.by_index("ref", "ns/old") == []
    assert [object_key(o) for o in store.by_index("ref", "ns/new")] == ["ns/svc"]


def test_index_added_late_covers_cached_objects() -> None:
    store = Store()
    store.upsert(obj("svc", modelRef={"name": "m"}))
    store.add_index("ref", field_index("spec.modelRef.name"))
    assert len(store.by_index("ref", "ns/m")) == 1


def test_field_index_over_a_list_indexes_every_element() -> None:
    index = field_index("spec.volumes.claimName", namespaced=False)
    assert index(obj("p", volumes=[{"claimName": "a"}, {"claimName": "b"}, {"other": 1}])) == ["a", "b"]


def test_lookup_of_an_unregistered_index_names_the_fix() -> None:
    with pytest.raises(KeyError, match="add_index"):
        Store().by_index("nope", "x")
