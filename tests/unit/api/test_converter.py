from __future__ import annotations

from typing import Any

import pytest

from api.v1alpha1.converter import WireError, from_wire, to_wire
from api.v1alpha1.gguf import GGUFInfo
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.model import Model
from tests.unit.api.conftest import sample_documents

KINDS: dict[str, type[Any]] = {"Model": Model, "InferenceService": InferenceService}


def is_subset(small: Any, big: Any) -> bool:
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and is_subset(v, big[k]) for k, v in small.items())
    if isinstance(small, list):
        return isinstance(big, list) and len(small) == len(big) and all(map(is_subset, small, big))
    return bool(small == big)


@pytest.mark.parametrize(("name", "doc"), sample_documents(), ids=[n for n, _ in sample_documents()])
def test_every_sample_parses_and_round_trips(name: str, doc: dict[str, Any]) -> None:
    value = from_wire(doc, KINDS[doc["kind"]])
    wire = to_wire(value)
    assert is_subset(doc, wire), f"{name} lost or changed a field"
    assert from_wire(wire, KINDS[doc["kind"]]) == value


def test_release_note_13b_example_keeps_model_gpu_count() -> None:
    doc = next(
        d for n, d in sample_documents() if n.startswith("multi_gpu_llama_13b") and d["kind"] == "Model"
    )
    model = from_wire(doc, Model)
    assert model.spec.gpu_count == 2
    assert model.spec.source.hugging_face is not None
    assert model.spec.source.hugging_face.revision == "main"


def test_defaults_fill_endpoint_accelerator_and_replicas() -> None:
    isvc = from_wire({"spec": {"modelRef": {"name": "m"}}}, InferenceService)
    assert isvc.spec.replicas == 1
    assert isvc.spec.accelerator.type == "cpu"
    assert isvc.spec.endpoint.port == 8080
    assert isvc.spec.endpoint.type == "ClusterIP"


def test_none_fields_are_left_out_of_the_wire_form() -> None:
    wire = to_wire(from_wire({"spec": {"source": {"url": "https://h/m.gguf"}}}, Model))
    assert wire["spec"]["source"] == {"url": "https://h/m.gguf"}
    assert "sha256" not in wire["spec"]
    assert "status" not in wire


def test_unknown_fields_are_tolerated_on_read() -> None:
    doc = {"spec": {"source": {"url": "https://h/m.gguf", "fromTheFuture": 1}, "newField": True}}
    assert from_wire(doc, Model).spec.source.url == "https://h/m.gguf"


def test_irregular_wire_names_use_explicit_mapping() -> None:
    assert to_wire(GGUFInfo(head_count_kv=8)) == {"headCountKV": 8}
    assert from_wire({"headCountKV": 4}, GGUFInfo).head_count_kv == 4


def test_missing_required_field_names_it() -> None:
    with pytest.raises(WireError, match=r"required field missing @ \$\.spec\.modelRef"):
        from_wire({"spec": {}}, InferenceService)


@pytest.mark.parametrize(
    ("source", "identity"),
    [
        ({"url": "https://h/x.gguf"}, "https://h/x.gguf"),
        ({"huggingFace": {"repo": "o/r", "filename": "f.gguf"}}, "hf://o/r/f.gguf@main"),
        ({"pvc": {"claimName": "c", "path": "/a/b.gguf"}}, "pvc://c/a/b.gguf"),
    ],
)
def test_source_identity_is_canonical(source: dict[str, Any], identity: str) -> None:
    assert from_wire({"spec": {"source": source}}, Model).spec.source.identity() == identity
