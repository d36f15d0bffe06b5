"""Models and InferenceServices as the CLI shows them: typed from the wire, summarised into rows.

Pure functions, so listing and status logic is tested without a cluster. One row per InferenceService (the
thing users serve and talk to) joined with its Model; Models no service uses get rows of their own, so a
download started by `deploy` is visible before its service exists.
"""

from __future__ import annotations

from typing import Any

import attrs

from api.objects import Object
from api.v1alpha1.converter import from_wire
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.meta import Condition
from api.v1alpha1.model import Model, ModelSource
from llmkube.cli.output import human_bytes


def parse_model(obj: Object) -> Model:
    return from_wire(obj, Model)


def parse_service(obj: Object) -> InferenceService:
    return from_wire(obj, InferenceService)


def find_condition(conditions: list[Condition] | None, type_: str) -> Condition | None:
    return next((c for c in conditions or () if c.type == type_), None)


def describe_source(source: ModelSource) -> str:
    if source.hugging_face is not None:
        hf = source.hugging_face
        revision = "" if hf.revision == "main" else f"@{hf.revision}"
        return f"hf://{hf.repo}/{hf.filename}{revision}"
    if source.url is not None:
        return source.url
    if source.pvc is not None:
        return f"pvc://{source.pvc.claim_name}/{source.pvc.path.lstrip('/')}"
    return "-"


def model_size(model: Model | None) -> str | None:
    status = model.status if model else None
    if status is None:
        return None
    if status.size:
        return status.size
    return human_bytes(status.size_bytes) if status.size_bytes is not None else None


def download_percent(model: Model | None) -> float | None:
    progress = model.status.progress if model and model.status else None
    if progress is None or not progress.bytes_total:
        return None
    return min(100.0, 100.0 * progress.bytes_done / progress.bytes_total)


def model_phase_text(model: Model | None) -> str | None:
    if model is None:
        return None
    phase = (model.status.phase if model.status else None) or "Pending"
    percent = download_percent(model)
    return f"{phase} {percent:.0f}%" if phase == "Downloading" and percent is not None else phase


@attrs.frozen(kw_only=True)
class Row:
    namespace: str
    name: str
    model: str
    model_phase: str | None
    size: str | None
    service_phase: str | None
    ready: str | None
    accelerator: str | None
    gpus: int | None
    endpoint: str | None
    created: str | None

    def to_data(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "model": self.model,
            "modelPhase": self.model_phase,
            "size": self.size,
            "servicePhase": self.service_phase,
            "ready": self.ready,
            "accelerator": self.accelerator,
            "gpus": self.gpus,
            "endpoint": self.endpoint,
            "created": self.created,
        }


def _service_row(isvc: InferenceService, model: Model | None) -> Row:
    status = isvc.status
    desired = status.replicas if status and status.replicas is not None else isvc.spec.replicas
    ready = f"{(status.ready_replicas if status else None) or 0}/{desired}"
    gpus = status.gpu_count if status and status.gpu_count is not None else isvc.spec.accelerator.gpu_count
    return Row(
        namespace=isvc.metadata.namespace or "",
        name=isvc.metadata.name or "",
        model=isvc.spec.model_ref.name,
        model_phase=model_phase_text(model) if model else "NotFound",
        size=model_size(model),
        service_phase=(status.phase if status else None) or "Pending",
        ready=ready,
        accelerator=isvc.spec.accelerator.type,
        gpus=gpus,
        endpoint=status.endpoint if status else None,
        created=isvc.metadata.creation_timestamp,
    )


def _model_row(model: Model) -> Row:
    return Row(
        namespace=model.metadata.namespace or "",
        name=model.metadata.name or "",
        model=model.metadata.name or "",
        model_phase=model_phase_text(model),
        size=model_size(model),
        service_phase=None,
        ready=None,
        accelerator=None,
        gpus=None,
        endpoint=None,
        created=model.metadata.creation_timestamp,
    )


def list_rows(models: list[Model], services: list[InferenceService]) -> list[Row]:
    by_key = {(m.metadata.namespace, m.metadata.name): m for m in models}
    used: set[tuple[str | None, str | None]] = set()
    rows = []
    for isvc in services:
        key = (isvc.metadata.namespace, isvc.spec.model_ref.name)
        used.add(key)
        rows.append(_service_row(isvc, by_key.get(key)))
    rows.extend(_model_row(m) for key, m in by_key.items() if key not in used)
    return sorted(rows, key=lambda r: (r.namespace, r.name))


def services_using(model_name: str, services: list[InferenceService]) -> list[str]:
    return sorted(s.metadata.name or "" for s in services if s.spec.model_ref.name == model_name)
