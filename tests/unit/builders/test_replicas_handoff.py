from __future__ import annotations

from typing import Any

from api.v1alpha1.well_known import REPLICAS_HANDOFF_MANAGER
from controller.builders.replicas_handoff import (
    applies_replicas,
    needs_replicas_handoff,
    replicas_handoff,
)
from controller.kube.resources import DEPLOYMENTS
from controller.reconcilers.apply import Applier

MANAGER = "llmkube"


def entry(manager: str, *, spec_fields: dict[str, Any], **extra: str) -> dict[str, Any]:
    """A managedFields entry as the API server writes it."""
    return {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "time": "2025-01-01T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": spec_fields},
        **extra,
    }


def live_deployment(*managed: dict[str, Any], replicas: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "chat",
            "namespace": "team",
            "resourceVersion": "42",
            "managedFields": list(managed),
        },
        "spec": {"replicas": replicas, "template": {}},
    }


def desired(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "chat", "namespace": "team"},
        "spec": {"template": {}, **spec},
    }


WE_OWN_REPLICAS = entry(MANAGER, spec_fields={"f:replicas": {}, "f:template": {}})
WE_OWN_THE_REST = entry(MANAGER, spec_fields={"f:template": {}})


def test_dropping_replicas_that_our_apply_owns_needs_a_handoff() -> None:
    assert needs_replicas_handoff(
        desired=desired(), current=live_deployment(WE_OWN_REPLICAS), manager=MANAGER
    )


def test_after_the_handover_our_apply_no_longer_owns_replicas_so_nothing_more_is_written() -> None:
    current = live_deployment(
        WE_OWN_THE_REST, entry(REPLICAS_HANDOFF_MANAGER, spec_fields={"f:replicas": {}})
    )
    assert not needs_replicas_handoff(desired=desired(), current=current, manager=MANAGER)


def test_a_deployment_the_autoscaler_already_scaled_needs_no_handoff() -> None:
    hpa = entry("kube-controller-manager", spec_fields={"f:replicas": {}}, subresource="scale")
    current = live_deployment(WE_OWN_THE_REST, {**hpa, "operation": "Update"})
    assert not needs_replicas_handoff(desired=desired(), current=current, manager=MANAGER)


def test_an_intent_that_still_sets_replicas_needs_no_handoff() -> None:
    current = live_deployment(WE_OWN_REPLICAS)
    assert not needs_replicas_handoff(desired=desired(replicas=3), current=current, manager=MANAGER)


def test_a_deployment_not_created_yet_needs_no_handoff() -> None:
    assert not needs_replicas_handoff(desired=desired(), current=None, manager=MANAGER)


def test_only_our_own_apply_on_the_main_resource_counts_as_owning_replicas() -> None:
    update = {**WE_OWN_REPLICAS, "operation": "Update"}
    scale = {**WE_OWN_REPLICAS, "subresource": "scale"}
    other = entry("kubectl", spec_fields={"f:replicas": {}})
    for managed in (update, scale, other):
        assert not applies_replicas(live_deployment(managed), manager=MANAGER)
    assert applies_replicas(live_deployment(other, WE_OWN_REPLICAS), manager=MANAGER)


def test_the_handoff_applies_only_the_live_replica_count() -> None:
    body = replicas_handoff(live_deployment(WE_OWN_REPLICAS, replicas=5))
    assert body == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "chat", "namespace": "team"},
        "spec": {"replicas": 5},
    }


class RecordingClient:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def apply(self, resource: object, obj: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        self.calls.append({"body": obj, **kwargs})
        return obj


async def test_the_handover_is_applied_unforced_under_the_second_manager() -> None:
    client = RecordingClient()
    applier = Applier(client, field_manager=MANAGER)  # type: ignore[arg-type]
    body = replicas_handoff(live_deployment(WE_OWN_REPLICAS))
    await applier.hand_over(DEPLOYMENTS, body, field_manager=REPLICAS_HANDOFF_MANAGER)
    assert client.calls == [{"body": body, "field_manager": REPLICAS_HANDOFF_MANAGER, "force": False}]
