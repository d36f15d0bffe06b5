"""Facts read from a GGUF file's header, as `Model.status.gguf` carries them."""

from __future__ import annotations

import attrs

from api.fields import spec_field


@attrs.frozen(kw_only=True)
class GGUFInfo:
    """What the weights are, so users and the InferenceService builder need not guess from file names.

    Every field is optional because GGUF metadata keys vary by architecture and converter version.
    """

    architecture: str | None = spec_field(default=None, description="Model architecture (e.g. llama).")
    name: str | None = spec_field(default=None, description="Model name recorded in the file.")
    parameter_count: int | None = spec_field(default=None, description="Number of parameters.")
    context_length: int | None = spec_field(
        default=None, description="Context length the model was trained for."
    )
    block_count: int | None = spec_field(default=None, description="Number of transformer blocks (layers).")
    embedding_length: int | None = spec_field(default=None, description="Embedding width.")
    head_count: int | None = spec_field(default=None, description="Attention heads.")
    head_count_kv: int | None = spec_field(
        default=None, wire="headCountKV", description="Key/value heads (grouped-query attention)."
    )
    file_type: str | None = spec_field(
        default=None, description="GGUF file type as recorded (e.g. MOSTLY_Q4_1)."
    )
    quantization: str | None = spec_field(default=None, description="Quantization for humans (e.g. Q4_K_M).")
