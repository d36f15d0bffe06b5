"""What the catalog knows about one model: where its GGUF file lives and what it takes to serve it."""

from __future__ import annotations

import attrs

# Average bits per weight of llama.cpp quantization types, as llama.cpp's quantize tool reports them for
# Llama-shaped models. They turn a parameter count into the size of the weights, which is how the catalog's
# VRAM estimates are sanity-checked.
BITS_PER_WEIGHT: dict[str, float] = {
    "Q2_K": 2.96,
    "Q3_K_M": 3.91,
    "Q4_0": 4.55,
    "Q4_1": 5.0,
    "Q4_K_M": 4.85,
    "Q5_K_M": 5.69,
    "Q6_K": 6.56,
    "Q8_0": 8.5,
    "F16": 16.0,
}


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
    size: str  # the label model cards use (7B, 0.5B); parameters_billions is the exact count behind it
    parameters_billions: float
    quantization: str
    context_size: int
    max_context: int
    gpu_count: int
    vram_gib: float
    resources: PodResources
    tags: tuple[str, ...]
    homepage: str

    @property
    def weights_gib(self) -> float:
        """Expected size of the GGUF weights; the floor under any VRAM estimate."""
        bits = BITS_PER_WEIGHT[self.quantization]
        return self.parameters_billions * 1e9 * bits / 8 / 2**30

    def has_tag(self, tag: str) -> bool:
        return tag.casefold() in (t.casefold() for t in self.tags)


@attrs.frozen(kw_only=True)
class Catalog:
    version: str
    models: tuple[CatalogEntry, ...]
