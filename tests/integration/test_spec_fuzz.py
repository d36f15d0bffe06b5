"""Hypothesis-drawn Model and InferenceService specs, sent to the real API server and through the reconcilers.

Three properties, for every drawn spec:

- a spec the API server refuses is refused naming the field (`spec.<path>`), so a user can find what to fix;
- a spec it accepts reaches a phase whose Ready condition has a reason, for the spec's current generation: no
  accepted spec leaves an object without a status a user can read;
- the reconcilers never fail with an unexpected error on any of them (a spec the reconciler itself finds unusable
  is a terminal InvalidSpec with a reason, which is an answer, not a crash).

Specs come from the CRDs' own schemas (tests/integration/spec_strategies.py). Each Hypothesis example is a batch
sent to a fresh namespace with a fresh controller, so the example count stays small for two cores while each
kind still sees 50 specs.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from controller.kube import BadRequest, Invalid, KubeClient, NotFound, Resource
from controller.kube.resources import INFERENCE_SERVICES, MODELS, NAMESPACES
from hack.localcluster import ClusterBase
from tests.integration.namespaces import restricted_namespace
from tests.integration.reconcilers.isvc_harness import hf_model, make_model_ready, running_controller
from tests.integration.reconcilers.model_harness import model_test_config, running_model_controller
from tests.integration.spec_strategies import inferenceservice_specs, model_specs

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

BATCH = 25
BATCHES = settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
READY_MODEL = "ready"
#: The InferenceService kind costs a controller, a Ready Model and 25 services per example: one batch keeps the
#: whole test within a few minutes on two loaded cores.
SERVICE_BATCHES = settings(BATCHES, max_examples=1)
#: A field path as the API server writes it: `spec`, `spec.source.url`, `spec.tolerations[0].key`.
FIELD = re.compile(r"\bspec(\.[A-Za-z]|\[|\b)")
#: How long an accepted object may take to show a phase: a bound for a loaded 2-core machine (API calls there
#: can take 30 s), not a speed target.
PHASE_WITHIN_SECONDS = 300.0


@pytest.fixture(scope="module")
def cluster(local_cluster: ClusterBase) -> ClusterBase:
    local_cluster.install_crds()
    return local_cluster


def refusal_names_a_field(error: Invalid | BadRequest) -> bool:
    """Some cause names a spec field, and every cause with a field names one under spec. (A cause without one
    is the API server's note that CEL rules were skipped because the schema check failed first.)"""
    causes = (error.details or {}).get("causes") or []
    fields = [str(cause.get("field")) for cause in causes if cause.get("field") not in (None, "", "<nil>")]
    if fields:
        return all(FIELD.match(field) for field in fields)
    return FIELD.search(error.message) is not None


def manifest(kind: str, name: str, namespace: str, spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "inference.llmkube.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


async def submit(
    kube: KubeClient, resource: Resource, kind: str, namespace: str, specs: list[Any]
) -> tuple[list[str], list[str]]:
    """Create one object per spec; the names accepted, and a line per refusal that names no field."""
    accepted, unnamed = [], []
    for index, spec in enumerate(specs):
        name = f"{kind.lower()}-{index}"
        try:
            await kube.create(resource, manifest(kind, name, namespace, spec))
        except (Invalid, BadRequest) as error:
            if not refusal_names_a_field(error):
                unnamed.append(f"{spec!r}: {error.message}")
        else:
            accepted.append(name)
    return accepted, unnamed


def has_a_reasoned_phase(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), {})
    current = status.get("observedGeneration") == obj["metadata"].get("generation")
    return bool(status.get("phase")) and bool(ready.get("reason")) and current


async def without_reasoned_phase(
    kube: KubeClient, resource: Resource, namespace: str, names: list[str]
) -> list[dict[str, Any]]:
    """The accepted objects still without a reasoned phase once PHASE_WITHIN_SECONDS have passed."""
    pending = list(names)
    with anyio.move_on_after(PHASE_WITHIN_SECONDS):
        while pending:
            objects = {
                o["metadata"]["name"]: o for o in (await kube.list(resource, namespace=namespace)).items
            }
            pending = [n for n in pending if not has_a_reasoned_phase(objects.get(n, {"metadata": {}}))]
            await anyio.sleep(0.5)
    if not pending:
        return []
    objects = {o["metadata"]["name"]: o for o in (await kube.list(resource, namespace=namespace)).items}
    return [objects.get(n, {"metadata": {"name": n}}) for n in pending]


@contextlib.contextmanager
def reconcile_bugs() -> Iterator[list[str]]:
    """Collects the reconciles that failed with an error that is neither an answer (a terminal InvalidSpec) nor a
    transient API failure (a timeout or 409 on a loaded machine, retried): the errors logged with a traceback."""
    found: list[str] = []
    with structlog.testing.capture_logs() as logs:
        yield found
    found.extend(
        f"{entry.get('key')}: {entry.get('exc_info')!r}"
        for entry in logs
        if entry["event"] == "reconcile failed; requeued with backoff" and entry["log_level"] == "error"
    )


async def fresh_namespace(kube: KubeClient) -> str:
    name = f"fuzz-{secrets.token_hex(4)}"
    await kube.create(NAMESPACES, restricted_namespace(name))
    return name


async def model_batch(kubeconfig: Path, specs: list[Any]) -> None:
    async with KubeClient.connect(kubeconfig=kubeconfig) as kube:
        namespace = await fresh_namespace(kube)
        try:
            registry = CollectorRegistry()
            with reconcile_bugs() as bugs:
                async with running_model_controller(
                    kubeconfig, namespace=namespace, config=model_test_config(), registry=registry
                ):
                    accepted, unnamed = await submit(kube, MODELS, "Model", namespace, specs)
                    silent = await without_reasoned_phase(kube, MODELS, namespace, accepted)
            assert unnamed == [], "refusals that name no field"
            assert silent == [], "accepted Models without a phase and a reason"
            assert bugs == []
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(NotFound):
                await kube.delete(NAMESPACES, namespace)


async def inferenceservice_batch(kubeconfig: Path, specs: list[Any]) -> None:
    async with KubeClient.connect(kubeconfig=kubeconfig) as kube:
        namespace = await fresh_namespace(kube)
        try:
            await kube.create(MODELS, hf_model(READY_MODEL, namespace=namespace))
            await make_model_ready(kube, READY_MODEL, namespace=namespace)
            with reconcile_bugs() as bugs:
                async with running_controller(kubeconfig, namespace=namespace):
                    accepted, unnamed = await submit(
                        kube, INFERENCE_SERVICES, "InferenceService", namespace, specs
                    )
                    silent = await without_reasoned_phase(kube, INFERENCE_SERVICES, namespace, accepted)
            assert unnamed == [], "refusals that name no field"
            assert silent == [], "accepted InferenceServices without a phase and a reason"
            assert bugs == []
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(NotFound):
                await kube.delete(NAMESPACES, namespace)


@BATCHES
@given(specs=st.lists(model_specs(), min_size=BATCH, max_size=BATCH))
def test_drawn_model_specs_are_refused_by_field_or_reach_a_reasoned_phase(
    cluster: ClusterBase, specs: list[Any]
) -> None:
    anyio.run(model_batch, Path(cluster.kubeconfig), specs)


@SERVICE_BATCHES
@given(specs=st.lists(inferenceservice_specs([READY_MODEL]), min_size=BATCH, max_size=BATCH))
def test_drawn_inferenceservice_specs_are_refused_by_field_or_reach_a_reasoned_phase(
    cluster: ClusterBase, specs: list[Any]
) -> None:
    anyio.run(inferenceservice_batch, Path(cluster.kubeconfig), specs)
