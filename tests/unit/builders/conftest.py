from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
import yaml

from api.v1alpha1.converter import from_wire
from api.v1alpha1.gguf import GGUFInfo
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.model import Model, ModelStatus
from controller.config import ControllerConfig

SAMPLES = Path(__file__).resolve().parents[3] / "config" / "samples"
T = TypeVar("T", Model, InferenceService)
KINDS: dict[str, type[Any]] = {"Model": Model, "InferenceService": InferenceService}


def stored(obj: T, *, namespace: str = "team-a", uid: str = "uid-1234", generation: int = 1) -> T:
    """`obj` as the API server would return it: namespaced, with a uid and a generation."""
    meta = attrs.evolve(obj.metadata, namespace=namespace, uid=uid, generation=generation)
    return attrs.evolve(obj, metadata=meta)


def sample(file_name: str, kind: str) -> Any:
    """The first object of `kind` in config/samples/<file_name>, parsed and stored."""
    for doc in yaml.safe_load_all((SAMPLES / file_name).read_text()):
        if doc["kind"] == kind:
            return stored(from_wire(doc, KINDS[kind]))
    raise LookupError(f"no {kind} in {file_name}")


def isvc_from(spec: dict[str, Any], *, name: str = "chat", namespace: str = "team-a") -> InferenceService:
    wire = {
        "apiVersion": "inference.llmkube.dev/v1alpha1",
        "kind": "InferenceService",
        "metadata": {"name": name},
    }
    wire["spec"] = {"modelRef": {"name": "tiny"}, **spec}
    return stored(from_wire(wire, InferenceService), namespace=namespace, uid="isvc-uid")


def model_from(spec: dict[str, Any], *, name: str = "tiny", status: dict[str, Any] | None = None) -> Model:
    wire: dict[str, Any] = {
        "apiVersion": "inference.llmkube.dev/v1alpha1",
        "kind": "Model",
        "metadata": {"name": name},
    }
    wire["spec"] = spec
    if status is not None:
        wire["status"] = status
    return stored(from_wire(wire, Model), uid="model-uid")


def ready(model: Model, *, cache_key: str = "0123456789abcdef", size_bytes: int = 2 << 30) -> Model:
    return attrs.evolve(
        model,
        status=ModelStatus(
            phase="Ready",
            cache_key=cache_key,
            size_bytes=size_bytes,
            path=f"/models/{cache_key}/model.gguf",
            gguf=GGUFInfo(context_length=131072),
        ),
    )


@pytest.fixture
def config() -> ControllerConfig:
    return ControllerConfig()


@pytest.fixture
def hf_model() -> Model:
    return model_from({"source": {"huggingFace": {"repo": "org/tiny-GGUF", "filename": "tiny.Q4_K_M.gguf"}}})
