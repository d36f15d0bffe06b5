"""Reading plain Kubernetes objects: every accessor answers for a missing or null level instead of raising."""

from __future__ import annotations

from typing import Any

import pytest

from api.objects import (
    annotations_of,
    condition_of,
    controller_reference,
    is_terminating,
    key_of,
    labels_of,
    name_of,
    namespace_of,
    spec_of,
)

POD: dict[str, Any] = {
    "metadata": {
        "name": "chat-1",
        "namespace": "ml",
        "labels": {"app": "chat"},
        "annotations": {"note": "x"},
        "ownerReferences": [
            {"kind": "ReplicaSet", "name": "other", "uid": "u-0"},
            {"kind": "ReplicaSet", "name": "chat", "uid": "u-1", "controller": True},
        ],
    },
    "status": {"conditions": [{"type": "Ready", "status": "True"}, "garbage"]},
}


def test_a_namespaced_object_is_keyed_namespace_slash_name() -> None:
    assert (name_of(POD), namespace_of(POD), key_of(POD)) == ("chat-1", "ml", "ml/chat-1")


def test_a_cluster_scoped_object_is_keyed_by_its_name_alone() -> None:
    assert key_of({"metadata": {"name": "gpu-node"}}) == "gpu-node"


def test_labels_annotations_and_the_controlling_owner_are_read_from_metadata() -> None:
    assert labels_of(POD) == {"app": "chat"}
    assert annotations_of(POD) == {"note": "x"}
    assert controller_reference(POD) == POD["metadata"]["ownerReferences"][1]


def test_a_condition_is_found_by_type_and_entries_that_are_not_objects_are_skipped() -> None:
    assert condition_of(POD, "Ready") == {"type": "Ready", "status": "True"}
    assert condition_of(POD, "garbage") is None


@pytest.mark.parametrize(
    "obj", [None, {}, {"metadata": None, "status": None, "spec": None}, {"metadata": {"labels": None}}]
)
def test_missing_or_null_levels_read_as_empty(obj: dict[str, Any] | None) -> None:
    assert (key_of(obj), labels_of(obj), annotations_of(obj)) == ("", {}, {})
    assert (controller_reference(obj), condition_of(obj, "Ready"), is_terminating(obj)) == (None, None, False)
    assert spec_of(obj) == {}


def test_an_object_with_a_deletion_timestamp_is_terminating() -> None:
    assert is_terminating({"metadata": {"deletionTimestamp": "2025-01-01T00:00:00Z"}})
