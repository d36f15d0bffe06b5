"""Event handlers and predicates: which requests an informer event becomes."""

from __future__ import annotations

import structlog

from controller.runtime.events import (
    enqueue_mapped,
    enqueue_object,
    enqueue_owner,
    generation_changed,
    referrers,
)
from controller.runtime.indexer import field_index
from controller.runtime.request import Request
from controller.runtime.store import Store
from tests.unit.runtime.fake_events import kube_object, owner_ref


class RecordingQueue:
    def __init__(self) -> None:
        self.added: list[Request] = []

    def add(self, item: Request) -> None:
        self.added.append(item)


def test_enqueue_object_requests_the_object_itself() -> None:
    queue = RecordingQueue()
    enqueue_object().handler(queue).on_add(kube_object("llama", namespace="ml"))

    assert queue.added == [Request(namespace="ml", name="llama")]


def test_enqueue_object_requests_a_cluster_scoped_object_without_namespace() -> None:
    queue = RecordingQueue()
    node = {"kind": "Node", "metadata": {"name": "gpu-1"}}
    enqueue_object().handler(queue).on_delete(node)

    assert queue.added == [Request(namespace="", name="gpu-1")]


def test_enqueue_owner_requests_the_controlling_owner_in_the_childs_namespace() -> None:
    queue = RecordingQueue()
    job = kube_object("llama-fetch", namespace="ml", kind="Job", owners=[owner_ref("llama")])
    enqueue_owner("Model", "inference.llmkube.dev").handler(queue).on_add(job)

    assert queue.added == [Request(namespace="ml", name="llama")]


def test_enqueue_owner_ignores_owners_that_do_not_control_the_child() -> None:
    queue = RecordingQueue()
    job = kube_object("llama-fetch", kind="Job", owners=[owner_ref("llama", controller=False)])
    enqueue_owner("Model", "inference.llmkube.dev").handler(queue).on_add(job)

    assert queue.added == []


def test_enqueue_owner_matches_group_and_kind_but_not_version() -> None:
    queue = RecordingQueue()
    refs = [
        owner_ref("other-group", api_version="example.com/v1alpha1"),
        owner_ref("other-kind", kind="InferenceService"),
        owner_ref("newer-version", api_version="inference.llmkube.dev/v1"),
    ]
    job = kube_object("child", kind="Job", owners=refs)
    enqueue_owner("Model", "inference.llmkube.dev", only_controller=False).handler(queue).on_add(job)

    assert queue.added == [Request(namespace="default", name="newer-version")]


def test_enqueue_owner_reads_the_core_group_from_a_bare_version() -> None:
    queue = RecordingQueue()
    pod = kube_object("p", kind="Pod", owners=[owner_ref("cm", kind="ConfigMap", api_version="v1")])
    enqueue_owner("ConfigMap", "").handler(queue).on_add(pod)

    assert queue.added == [Request(namespace="default", name="cm")]


def test_an_update_wakes_both_the_old_and_the_new_owner() -> None:
    queue = RecordingQueue()
    old = kube_object("job", kind="Job", owners=[owner_ref("before")])
    new = kube_object("job", kind="Job", owners=[owner_ref("after")])
    enqueue_owner("Model", "inference.llmkube.dev").handler(queue).on_update(old, new)

    assert queue.added == [
        Request(namespace="default", name="before"),
        Request(namespace="default", name="after"),
    ]


def test_an_update_enqueues_an_unchanged_owner_once() -> None:
    queue = RecordingQueue()
    old = kube_object("job", kind="Job", owners=[owner_ref("llama")])
    enqueue_owner("Model", "inference.llmkube.dev").handler(queue).on_update(old, old)

    assert queue.added == [Request(namespace="default", name="llama")]


def test_enqueue_mapped_requests_what_the_map_function_names() -> None:
    queue = RecordingQueue()

    def services_using(obj: dict[str, object]) -> list[Request]:
        return [Request(namespace="ml", name="chat"), Request(namespace="ml", name="code")]

    enqueue_mapped(services_using).handler(queue).on_add(kube_object("llama"))

    assert queue.added == [Request(namespace="ml", name="chat"), Request(namespace="ml", name="code")]


def test_referrers_maps_an_object_to_those_naming_it_in_the_same_namespace() -> None:
    store = Store()
    store.add_index("spec.modelRef.name", field_index("spec.modelRef.name"))
    for name, namespace, model in (
        ("chat", "ml", "llama"),
        ("code", "ml", "qwen"),
        ("other", "dev", "llama"),
    ):
        store.upsert({**kube_object(name, namespace=namespace), "spec": {"modelRef": {"name": model}}})

    services_of = referrers(store, "spec.modelRef.name")

    assert services_of(kube_object("llama", namespace="ml")) == [Request(namespace="ml", name="chat")]


def test_a_failing_map_function_is_logged_and_the_event_dropped() -> None:
    queue = RecordingQueue()

    def broken(obj: dict[str, object]) -> list[Request]:
        raise KeyError("spec")

    with structlog.testing.capture_logs() as logs:
        enqueue_mapped(broken).handler(queue).on_add(kube_object("llama"))

    assert queue.added == []
    assert logs[0]["event"] == "mapping an event to requests failed; event dropped"
    assert logs[0]["object"] == "Model default/llama"


def test_generation_changed_drops_updates_that_keep_the_generation() -> None:
    queue = RecordingQueue()
    handler = enqueue_object().handler(queue, predicates=[generation_changed])
    handler.on_update(kube_object("llama", generation=1), kube_object("llama", generation=1))

    assert queue.added == []


def test_generation_changed_passes_spec_changes() -> None:
    queue = RecordingQueue()
    handler = enqueue_object().handler(queue, predicates=[generation_changed])
    handler.on_update(kube_object("llama", generation=1), kube_object("llama", generation=2))

    assert queue.added == [Request(namespace="default", name="llama")]


def test_generation_changed_passes_creates_and_deletes() -> None:
    queue = RecordingQueue()
    handler = enqueue_object().handler(queue, predicates=[generation_changed])
    handler.on_add(kube_object("a"))
    handler.on_delete(kube_object("b"))

    assert [request.name for request in queue.added] == ["a", "b"]
