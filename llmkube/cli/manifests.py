"""What `llmkube deploy` asks for: the Model and InferenceService, from a catalog entry or a custom source.

Pure functions from the command line's choices to wire dicts, built from the API types so the converter (not
hand-written camelCase) decides the wire names. The objects carry only what the user or the catalog chose: with
server-side apply, a field left out is one the CLI does not own, so the CRD defaults (port 8080, ClusterIP) and
other managers' fields are kept, and a later `deploy` with a flag removed removes exactly that field.
"""

from __future__ import annotations

from typing import Any

import attrs

from api.v1alpha1.converter import to_wire
from api.v1alpha1.inferenceservice import (
    HOST_ACCELERATORS,
    Accelerator,
    InferenceService,
    InferenceServiceSpec,
    ModelRef,
    Resources,
)
from api.v1alpha1.meta import ObjectMeta
from api.v1alpha1.model import HuggingFaceSource, Model, ModelSource, ModelSpec
from api.v1alpha1.well_known import CATALOG_LABEL
from llmkube.catalog import CatalogEntry
from llmkube.cli.errors import CliUsageError

GPU_ACCELERATORS = ("nvidia", "amd")


@attrs.frozen(kw_only=True)
class SourceChoice:
    """The custom-source flags as typed: at most one of `url` or (`hf_repo`, `hf_file`)."""

    url: str | None = None
    hf_repo: str | None = None
    hf_file: str | None = None
    revision: str | None = None

    @property
    def given(self) -> bool:
        return any((self.url, self.hf_repo, self.hf_file, self.revision))

    def to_source(self) -> ModelSource:
        if self.url and (self.hf_repo or self.hf_file):
            raise CliUsageError("give --source URL or --hf-repo/--hf-file, not both")
        if self.url:
            if self.revision:
                raise CliUsageError("--revision applies to --hf-repo, not to --source URL")
            if not self.url.split("?", 1)[0].split("#", 1)[0].endswith(".gguf"):
                raise CliUsageError(
                    f"--source must be an http(s) or file URL of a .gguf file, not {self.url!r}"
                )
            return ModelSource(url=self.url)
        if not (self.hf_repo and self.hf_file):
            raise CliUsageError("--hf-repo and --hf-file go together (repository owner/name and .gguf path)")
        return ModelSource(
            hugging_face=HuggingFaceSource(
                repo=self.hf_repo, filename=self.hf_file, revision=self.revision or "main"
            )
        )


@attrs.frozen(kw_only=True)
class ServingChoice:
    """How to serve, as flags gave it; None means "the catalog's (or the controller's) default"."""

    gpu: bool = False
    gpu_count: int | None = None
    accelerator: str | None = None
    replicas: int | None = None
    context_size: int | None = None
    image: str | None = None


@attrs.frozen(kw_only=True)
class DeployPlan:
    name: str
    namespace: str
    source: ModelSource
    sha256: str | None
    quantization: str | None
    catalog_id: str | None
    accelerator: str
    gpu_count: int | None
    replicas: int | None
    context_size: int | None
    image: str | None
    cpu: str | None
    memory: str | None


def choose_accelerator(serving: ServingChoice, *, catalog_gpus: int) -> tuple[str, int | None]:
    """(accelerator type, GPUs per pod). `--gpu-count` implies `--gpu`; `--gpu` alone means NVIDIA with the
    catalog's recommended count; host accelerators take a GPU count only when given."""
    accelerator = serving.accelerator
    wants_gpu = serving.gpu or (serving.gpu_count or 0) > 0
    if accelerator is None:
        accelerator = "nvidia" if wants_gpu else "cpu"
    if accelerator == "cpu":
        if wants_gpu:
            raise CliUsageError("--accelerator cpu cannot be combined with --gpu or --gpu-count")
        return "cpu", None
    if accelerator in HOST_ACCELERATORS:
        return accelerator, serving.gpu_count
    return accelerator, serving.gpu_count or max(catalog_gpus, 1)


def plan_from_catalog(
    entry: CatalogEntry, *, name: str, namespace: str, serving: ServingChoice, sha256: str | None
) -> DeployPlan:
    accelerator, gpus = choose_accelerator(serving, catalog_gpus=entry.gpu_count)
    return DeployPlan(
        name=name,
        namespace=namespace,
        source=ModelSource(
            hugging_face=HuggingFaceSource(repo=entry.source.repo, filename=entry.source.filename)
        ),
        sha256=sha256,
        quantization=entry.quantization,
        catalog_id=entry.id,
        accelerator=accelerator,
        gpu_count=gpus,
        replicas=serving.replicas,
        context_size=serving.context_size or entry.context_size,
        image=serving.image,
        cpu=entry.resources.cpu,
        # Left to the controller, which sizes a CPU pod's memory from the same plan `llmkube catalog` shows.
        memory=None,
    )


def plan_from_source(
    source: SourceChoice, *, name: str, namespace: str, serving: ServingChoice, sha256: str | None
) -> DeployPlan:
    accelerator, gpus = choose_accelerator(serving, catalog_gpus=1)
    return DeployPlan(
        name=name,
        namespace=namespace,
        source=source.to_source(),
        sha256=sha256,
        quantization=None,
        catalog_id=None,
        accelerator=accelerator,
        gpu_count=gpus,
        replicas=serving.replicas,
        context_size=serving.context_size,
        image=serving.image,
        cpu=None,
        memory=None,
    )


def _metadata(plan: DeployPlan) -> ObjectMeta:
    labels = {CATALOG_LABEL: plan.catalog_id} if plan.catalog_id else None
    return ObjectMeta(name=plan.name, namespace=plan.namespace, labels=labels)


def desired_model(plan: DeployPlan) -> dict[str, Any]:
    model = Model(
        metadata=_metadata(plan),
        spec=ModelSpec(source=plan.source, sha256=plan.sha256, quantization=plan.quantization),
    )
    wire: dict[str, Any] = to_wire(model)
    return wire


def desired_service(plan: DeployPlan) -> dict[str, Any]:
    resources = Resources(cpu=plan.cpu, memory=plan.memory) if (plan.cpu or plan.memory) else None
    isvc = InferenceService(
        metadata=_metadata(plan),
        spec=InferenceServiceSpec(
            model_ref=ModelRef(name=plan.name),
            replicas=plan.replicas if plan.replicas is not None else 1,
            image=plan.image,
            accelerator=Accelerator(type=plan.accelerator, gpu_count=plan.gpu_count),
            resources=resources,
            context_size=plan.context_size,
        ),
    )
    wire: dict[str, Any] = to_wire(isvc)
    spec = wire["spec"]
    # Leave the CRD's defaults to the server: owning `endpoint` would fight a user's own `kubectl patch`.
    spec.pop("endpoint", None)
    if plan.replicas is None:
        spec.pop("replicas", None)
    return wire
