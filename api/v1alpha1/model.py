"""The Model kind: where a GGUF file comes from, and what the operator learned fetching it."""

from __future__ import annotations

from typing import ClassVar

import attrs

from api.fields import Rule, spec_field
from api.v1alpha1.gguf import GGUFInfo
from api.v1alpha1.meta import QUANTITY_PATTERN, Condition, ObjectMeta, SecretKeyRef

GROUP = "inference.llmkube.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

MODEL_PHASES = ("Pending", "Downloading", "Ready", "Failed")

#: http, https or file URLs whose path ends in .gguf; a query string or fragment may follow (signed URLs).
URL_PATTERN = r"^(https?|file)://[^?#]*\.gguf([?#].*)?$"
GGUF_PATH_PATTERN = r"^[^?#]*\.gguf$"


@attrs.frozen(kw_only=True)
class HuggingFaceSource:
    repo: str = spec_field(
        description="HuggingFace repository id, owner/name (e.g. bartowski/Llama-3.2-3B-Instruct-GGUF).",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$",
    )
    filename: str = spec_field(
        description="Path of the .gguf file inside the repository.", pattern=GGUF_PATH_PATTERN
    )
    revision: str = spec_field(
        default="main",
        description="Branch, tag or commit to download; the resolved commit is recorded in status.",
        schema_default="main",
        min_length=1,
    )
    token_secret_ref: SecretKeyRef | None = spec_field(
        default=None,
        description="Secret holding a HuggingFace token for gated or private repositories; "
        "passed to the download as an environment variable, never as an argument.",
    )


@attrs.frozen(kw_only=True)
class PVCSource:
    claim_name: str = spec_field(
        description="A PersistentVolumeClaim in the same namespace that already holds the file (air-gapped).",
        min_length=1,
    )
    path: str = spec_field(description="Path of the .gguf file inside the claim.", pattern=GGUF_PATH_PATTERN)


@attrs.frozen(kw_only=True)
class ModelSource:
    """Exactly one of the three sources (enforced by the API server with a CEL rule)."""

    __rules__: ClassVar[tuple[Rule, ...]] = (
        Rule(
            rule="[has(self.huggingFace), has(self.url), has(self.pvc)].filter(x, x).size() == 1",
            message="exactly one of huggingFace, url or pvc must be set",
        ),
    )

    hugging_face: HuggingFaceSource | None = spec_field(
        default=None, wire="huggingFace", description="Download from a HuggingFace repository."
    )
    url: str | None = spec_field(
        default=None,
        description="Download from an http(s) or file URL whose path ends in .gguf (a query string may follow).",
        pattern=URL_PATTERN,
        max_length=4096,
    )
    pvc: PVCSource | None = spec_field(
        default=None, description="Use a file already present on a PersistentVolumeClaim."
    )

    def identity(self) -> str:
        """The canonical name of the file this source denotes; equal identities share one cache entry."""
        if self.hugging_face is not None:
            hf = self.hugging_face
            return f"hf://{hf.repo}/{hf.filename}@{hf.revision}"
        if self.url is not None:
            return self.url
        if self.pvc is not None:
            return f"pvc://{self.pvc.claim_name}/{self.pvc.path.lstrip('/')}"
        raise ValueError("a model source needs one of huggingFace, url or pvc")


@attrs.frozen(kw_only=True)
class CacheSpec:
    storage_class_name: str | None = spec_field(
        default=None, description="StorageClass for this namespace's model cache claim (controller default)."
    )
    size: str | None = spec_field(
        default=None,
        description="Requested size of the namespace's model cache claim, e.g. 200Gi (controller default).",
        pattern=QUANTITY_PATTERN,
    )


@attrs.frozen(kw_only=True)
class ModelSpec:
    source: ModelSource = spec_field(description="Where the GGUF weights come from: exactly one source.")
    sha256: str | None = spec_field(
        default=None,
        description="Expected SHA-256 of the file (64 lowercase hex); a mismatch never yields a Ready model.",
        pattern=r"^[a-f0-9]{64}$",
    )
    format: str = spec_field(
        default="gguf", description="Weight file format.", enum=["gguf"], schema_default="gguf"
    )
    quantization: str | None = spec_field(
        default=None, description="Quantization label for humans (e.g. Q4_K_M); status.gguf has the real one."
    )
    gpu_count: int | None = spec_field(
        default=None,
        description="GPUs per serving pod for services using this model, unless the service sets its own.",
        minimum=0,
        maximum=8,
    )
    cache: CacheSpec | None = spec_field(
        default=None, description="Overrides of the controller's model cache claim defaults."
    )


@attrs.frozen(kw_only=True)
class DownloadProgress:
    bytes_done: int = spec_field(default=0, description="Bytes written so far.", minimum=0)
    bytes_total: int | None = spec_field(
        default=None, description="Total bytes, when the source announces it.", minimum=0
    )


@attrs.frozen(kw_only=True)
class ModelStatus:
    phase: str | None = spec_field(
        default=None, description="Pending, Downloading, Ready or Failed.", enum=list(MODEL_PHASES)
    )
    conditions: list[Condition] | None = spec_field(
        default=None,
        description="Ready, Progressing and Degraded, each with a reason that says why.",
        list_map_keys=["type"],
    )
    observed_generation: int | None = spec_field(
        default=None, description="The .metadata.generation this status describes."
    )
    size_bytes: int | None = spec_field(default=None, description="Size of the cached file in bytes.")
    size: str | None = spec_field(
        default=None, description="Size of the cached file for humans (e.g. 3.2 GiB)."
    )
    sha256: str | None = spec_field(default=None, description="SHA-256 of the cached file.")
    cache_key: str | None = spec_field(default=None, description="Directory of this model inside the cache.")
    path: str | None = spec_field(default=None, description="Path of the file as serving pods mount it.")
    resolved_revision: str | None = spec_field(
        default=None, description="Commit the HuggingFace revision resolved to when downloaded."
    )
    progress: DownloadProgress | None = spec_field(
        default=None, description="Download progress while Downloading."
    )
    gguf: GGUFInfo | None = spec_field(default=None, description="Facts read from the GGUF header.")


@attrs.frozen(kw_only=True)
class Model:
    """A GGUF model the operator downloads once, verifies and caches for the services that use it."""

    KIND: ClassVar[str] = "Model"
    PLURAL: ClassVar[str] = "models"

    api_version: str = API_VERSION
    kind: str = "Model"
    metadata: ObjectMeta = attrs.Factory(ObjectMeta)
    spec: ModelSpec
    status: ModelStatus | None = None
