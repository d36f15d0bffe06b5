"""What the catalog knows about one model: where its GGUF file lives, the page that confirms it, and what it
takes to serve it (derived by the estimator, never typed in by hand)."""

from __future__ import annotations

import functools

import attrs

from llmkube.catalog.estimate import ServingEstimate, estimate_serving
from llmkube.catalog.shape import ModelShape


@attrs.frozen(kw_only=True)
class HuggingFaceFile:
    repo: str
    filename: str

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.repo}/resolve/main/{self.filename}"


@attrs.frozen(kw_only=True)
class PodResources:
    cpu: str
    memory: str


@attrs.frozen(kw_only=True)
class CatalogEntry:
    id: str
    name: str
    description: str
    source: HuggingFaceFile
    #: The page (a Hugging Face file listing or model card) that shows `source.filename` in `source.repo`.
    confirmed_by: str
    size: str  # the label model cards use (7B, 0.5B); parameters_billions is the exact count behind it
    parameters_billions: float
    quantization: str
    context_size: int
    max_context: int
    tags: tuple[str, ...]
    homepage: str
    #: Other names `deploy` and `catalog show` accept (llama-3-8b for llama-3.1-8b).
    aliases: tuple[str, ...] = ()
    #: The model's widths (from its config.json); with them the estimate is the controller's memory plan.
    shape: ModelShape | None = None

    @functools.cached_property
    def estimate(self) -> ServingEstimate:
        return estimate_serving(
            parameters_billions=self.parameters_billions,
            quantization=self.quantization,
            context_size=self.context_size,
            shape=self.shape,
            max_context=self.max_context,
        )

    def estimate_for(self, *, gpu_count: int, context_size: int) -> ServingEstimate:
        """The estimate for one deploy's GPU count (0: CPU) and context size."""
        return estimate_serving(
            parameters_billions=self.parameters_billions,
            quantization=self.quantization,
            context_size=context_size,
            shape=self.shape,
            max_context=self.max_context,
            gpu_count=gpu_count,
        )

    @property
    def weights_gib(self) -> float:
        return self.estimate.weights_gib

    @property
    def vram_gib(self) -> float:
        return self.estimate.vram_gib

    @property
    def gpu_count(self) -> int:
        return self.estimate.gpu_count

    @property
    def resources(self) -> PodResources:
        return PodResources(cpu=self.estimate.cpu, memory=self.estimate.memory)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)

    def has_tag(self, tag: str) -> bool:
        return tag.casefold() in (t.casefold() for t in self.tags)


@attrs.frozen(kw_only=True)
class Catalog:
    version: str
    models: tuple[CatalogEntry, ...]
