"""The two CustomResourceDefinitions: names, printer columns, subresources and the generated schemas."""

from __future__ import annotations

from typing import Any

from api.schema import schema_for_class
from api.v1alpha1.inferenceservice import InferenceServiceSpec, InferenceServiceStatus
from api.v1alpha1.model import GROUP, VERSION, ModelSpec, ModelStatus

CATEGORY = "llmkube"


def _column(
    name: str, json_path: str, *, type_: str = "string", priority: int = 0, description: str
) -> dict[str, Any]:
    column: dict[str, Any] = {"name": name, "type": type_, "jsonPath": json_path, "description": description}
    if priority:
        column["priority"] = priority
    return column


_AGE = _column("Age", ".metadata.creationTimestamp", type_="date", description="Time since creation.")


def _crd(
    *,
    kind: str,
    plural: str,
    short_name: str,
    description: str,
    spec: dict[str, Any],
    status: dict[str, Any],
    columns: list[dict[str, Any]],
    subresources: dict[str, Any],
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "llmkube", "app.kubernetes.io/part-of": "llmkube"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": [short_name],
                "categories": [CATEGORY],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": subresources,
                    "additionalPrinterColumns": [*columns, _AGE],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {
                                    "type": "string",
                                    "description": "Versioned schema of this object.",
                                },
                                "kind": {
                                    "type": "string",
                                    "description": "REST resource this object represents.",
                                },
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


def model_crd() -> dict[str, Any]:
    return _crd(
        kind="Model",
        plural="models",
        short_name="mdl",
        description="A GGUF model that LLMKube downloads once, verifies and caches for the services using it.",
        spec={**schema_for_class(ModelSpec, where="spec"), "description": "Where the weights come from."},
        status={
            **schema_for_class(ModelStatus, where="status"),
            "description": "What the operator observed.",
        },
        columns=[
            _column("Phase", ".status.phase", description="Pending, Downloading, Ready or Failed."),
            _column("Size", ".status.size", description="Size of the cached file."),
            _column("Quant", ".status.gguf.quantization", description="Quantization read from the file."),
            _column("Params", ".status.gguf.parameterCount", type_="integer", description="Parameter count."),
            _column(
                "Reason", '.status.conditions[?(@.type=="Ready")].reason', priority=1, description="Why."
            ),
        ],
        subresources={"status": {}},
    )


def inferenceservice_crd() -> dict[str, Any]:
    return _crd(
        kind="InferenceService",
        plural="inferenceservices",
        short_name="isvc",
        description="Serves a Model with llama.cpp as an OpenAI-compatible endpoint.",
        spec={
            **schema_for_class(InferenceServiceSpec, where="spec"),
            "description": "How to serve the model.",
        },
        status={
            **schema_for_class(InferenceServiceStatus, where="status"),
            "description": "What the operator observed.",
        },
        columns=[
            _column("Phase", ".status.phase", description="Where the service is in its life."),
            _column("Model", ".spec.modelRef.name", description="The Model served."),
            _column("Ready", ".status.readyReplicas", type_="integer", description="Ready pods."),
            _column("GPUs", ".status.gpuCount", type_="integer", description="GPUs per pod."),
            _column("Endpoint", ".status.endpoint", description="OpenAI-compatible base URL."),
            _column(
                "Reason", '.status.conditions[?(@.type=="Ready")].reason', priority=1, description="Why."
            ),
        ],
        subresources={
            "status": {},
            "scale": {
                "specReplicasPath": ".spec.replicas",
                "statusReplicasPath": ".status.replicas",
                "labelSelectorPath": ".status.selector",
            },
        },
    )


def all_crds() -> dict[str, dict[str, Any]]:
    """File name -> CRD, in the layout kubebuilder users recognise."""
    return {
        f"{GROUP}_models.yaml": model_crd(),
        f"{GROUP}_inferenceservices.yaml": inferenceservice_crd(),
    }
