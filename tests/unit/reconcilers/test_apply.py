from __future__ import annotations

from controller.kube.resources import MODELS
from controller.reconcilers.apply import (
    APPLIED_HASH_ANNOTATION,
    Applier,
    applied_hash,
    needs_apply,
    with_applied_hash,
)

DESIRED = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "s", "namespace": "n"},
    "spec": {"a": 1},
}


def test_a_missing_object_needs_apply() -> None:
    assert needs_apply(DESIRED, None)


def test_the_server_copy_of_what_we_applied_needs_nothing() -> None:
    applied = with_applied_hash(DESIRED)
    server_copy = {**applied, "spec": {"a": 1, "defaulted": "by-server"}, "status": {"x": 1}}
    assert not needs_apply(DESIRED, server_copy)


def test_a_changed_intent_needs_apply() -> None:
    server_copy = with_applied_hash(DESIRED)
    assert needs_apply({**DESIRED, "spec": {"a": 2}}, server_copy)


def test_hash_ignores_key_order_and_is_stable() -> None:
    reordered = {
        "spec": {"a": 1},
        "metadata": {"namespace": "n", "name": "s"},
        "kind": "Service",
        "apiVersion": "v1",
    }
    assert applied_hash(with_applied_hash(DESIRED)) == applied_hash(with_applied_hash(reordered))


def test_existing_annotations_are_kept_beside_the_hash() -> None:
    desired = {**DESIRED, "metadata": {**DESIRED["metadata"], "annotations": {"team": "ml"}}}
    annotations = with_applied_hash(desired)["metadata"]["annotations"]
    assert annotations["team"] == "ml"
    assert APPLIED_HASH_ANNOTATION in annotations


def test_applying_twice_does_not_nest_the_hash() -> None:
    once = with_applied_hash(DESIRED)
    assert with_applied_hash(once) == once


class RecordingClient:
    def __init__(self) -> None:
        self.applied: list[dict[str, object]] = []

    async def apply_status(
        self, resource: object, obj: dict[str, object], **kwargs: object
    ) -> dict[str, object]:
        self.applied.append(obj)
        return obj


MODEL = {
    "apiVersion": "inference.llmkube.dev/v1alpha1",
    "kind": "Model",
    "metadata": {"name": "m", "namespace": "n"},
    "status": {"phase": "Downloading", "progress": {"bytesDone": 5}},
}


async def test_status_fields_of_another_manager_are_neither_compared_nor_sent() -> None:
    client = RecordingClient()
    applier = Applier(client, field_manager="llmkube")  # type: ignore[arg-type]
    assert await applier.ensure_status(MODELS, MODEL, {"phase": "Downloading"}, foreign=("progress",)) is None
    await applier.ensure_status(MODELS, MODEL, {"phase": "Ready", "progress": {}}, foreign=("progress",))
    assert client.applied[0]["status"] == {"phase": "Ready"}
