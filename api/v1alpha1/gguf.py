"""Facts read from a GGUF file's header, as `Model.status.gguf` carries them.

Besides what users read (architecture, size, quantization), these are the inputs of the memory plan
(`controller.builders.memory_plan`): attention shape for the KV cache, feed-forward and vocabulary widths for the
compute buffers, and the bytes of the weights as the file's tensor table records them.
"""

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
    key_length: int | None = spec_field(
        default=None,
        description="Width of one attention head's keys, when the file records it (else embedding / heads).",
    )
    value_length: int | None = spec_field(
        default=None,
        description="Width of one attention head's values, when the file records it (else embedding / heads).",
    )
    feed_forward_length: int | None = spec_field(
        default=None, description="Feed-forward width (the widest layer's where layers differ)."
    )
    expert_feed_forward_length: int | None = spec_field(
        default=None, description="Feed-forward width of one expert (mixture-of-experts models)."
    )
    vocab_size: int | None = spec_field(default=None, description="Number of tokens in the vocabulary.")
    expert_count: int | None = spec_field(
        default=None, description="Experts per layer (mixture-of-experts models)."
    )
    expert_used_count: int | None = spec_field(
        default=None, description="Experts each token is routed to (mixture-of-experts models)."
    )
    sliding_window: int | None = spec_field(
        default=None,
        description="Tokens a sliding-window attention layer sees, for architectures llama.cpp runs with one.",
    )
    sliding_window_layers: list[int] | None = spec_field(
        default=None,
        description="Indices of the layers that use the sliding window (the others attend to the whole context).",
    )
    weight_bytes: int | None = spec_field(
        default=None, description="Bytes of all weight tensors, from the file's tensor table."
    )
    token_embedding_bytes: int | None = spec_field(
        default=None, description="Bytes of the token embedding table (llama.cpp keeps it in host memory)."
    )
    output_bytes: int | None = spec_field(
        default=None,
        description="Bytes of the output projection; absent when it shares the token embedding table.",
    )
