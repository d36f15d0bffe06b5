"""A catalog model's widths, and the `status.gguf` they stand for before the file is downloaded."""

from __future__ import annotations

import attrs

from api.v1alpha1.gguf import GGUFInfo


@attrs.frozen(kw_only=True)
class ModelShape:
    """The widths a memory plan needs, as the model's GGUF header records them (from its config.json)."""

    layers: int
    embedding: int
    heads: int
    kv_heads: int
    feed_forward: int
    vocab: int
    #: Width of one attention head where it is not embedding / heads (Gemma).
    head_width: int | None = None
    sliding_window: int | None = None
    #: In each run of this many layers, all but the last attend through the sliding window (Gemma 2: 2).
    sliding_window_every: int | None = None


def shaped_gguf(
    shape: ModelShape, *, parameters_billions: float, quantization: str, max_context: int
) -> GGUFInfo:
    """`status.gguf` as the fetcher would record it from the header of a file of this shape."""
    every = shape.sliding_window_every
    sliding = (
        [layer for layer in range(shape.layers) if layer % every < every - 1]
        if shape.sliding_window and every
        else None
    )
    return GGUFInfo(
        parameter_count=round(parameters_billions * 1e9),
        context_length=max_context,
        block_count=shape.layers,
        embedding_length=shape.embedding,
        head_count=shape.heads,
        head_count_kv=shape.kv_heads,
        key_length=shape.head_width,
        value_length=shape.head_width,
        feed_forward_length=shape.feed_forward,
        vocab_size=shape.vocab,
        quantization=quantization,
        sliding_window=shape.sliding_window if sliding else None,
        sliding_window_layers=sliding,
    )
