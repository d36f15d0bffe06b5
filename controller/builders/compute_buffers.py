"""The compute and output buffers llama-server (b11434) reserves, estimated from the model's widths.

At start the server reserves the graph of the worst batch it will run: one physical batch (`--ubatch-size`,
512 tokens, never more than the context) with as many output rows as it allows. ggml's allocator gives each
intermediate tensor a place in one buffer per device and reuses places no later operation reads, so the buffer
is the peak of what is alive at one time, not the sum of the graph. Measured on CPU (b11434, SmolLM2-135M,
Gemma 3 270M and wide two-layer test models), that peak is the largest of three moments, all f32:

- the output: the logits (vocabulary x output rows: llama-server allows one per slot, or every token of the
  batch for embeddings) beside six embedding rows per batch token;
- the feed-forward, per batch token: three rows of its width (gate, up, their product; for mixture-of-experts
  models the routed experts' widths together, plus the router's scores) beside five embedding rows;
- the attention, per batch token: queries, keys and values twice over beside two embedding rows, and without flash attention
  the scores of a full layer (cached cells x heads), which is why flash attention (on by default) matters so
  much for long contexts;

plus the graph inputs, alive throughout: one attention mask per cache (an f16 value per cell of one stream, f32
without flash attention) and the token positions.

The output buffer (logits and an embedding row per output row) is reserved beside it in host memory.

With layers on GPUs the graph inputs stay in host memory and each GPU gets copies; with more than one GPU,
llama.cpp runs the layers as a pipeline and keeps `PIPELINE_COPIES` copies of each GPU's inputs (the masks and
the hidden state handed over from the previous GPU). That part is read from the source, not measured: the
plan's GPU safety margin covers it.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from controller.builders.kv_cache import AttentionShape, CacheLayout
from controller.builders.server_memory_args import ServerMemoryOptions

F32 = 4
F16 = 2


@attrs.frozen(kw_only=True)
class ModelWidths:
    embedding: int
    head_count: int
    vocab: int
    feed_forward: int
    expert_feed_forward: int | None = None
    expert_count: int | None = None
    expert_used_count: int | None = None

    @property
    def activated_feed_forward(self) -> int:
        """Width of the feed-forward activations one token produces: the routed experts' for MoE models."""
        if self.expert_count and self.expert_used_count:
            return (self.expert_feed_forward or self.feed_forward) * self.expert_used_count
        return self.feed_forward


def batch_tokens(layout: CacheLayout, options: ServerMemoryOptions) -> int:
    return min(options.ubatch, options.batch, layout.context_size)


def output_buffer_bytes(widths: ModelWidths, *, output_rows: int) -> int:
    """Logits and an embedding row per output row (one per slot when generating), f32, reserved at start."""
    return (widths.vocab + widths.embedding) * output_rows * F32


def device_compute_bytes(
    widths: ModelWidths,
    *,
    attention: AttentionShape,
    layout: CacheLayout,
    options: ServerMemoryOptions,
    layers: Sequence[int],
    holds_output: bool,
    holds_input: bool,
    pipeline_copies: int,
    output_rows: int,
) -> int:
    """Compute buffer of one device holding `layers`, and the output layer and/or the input embedding."""
    tokens = batch_tokens(layout, options)
    row = tokens * F32
    inputs = graph_input_bytes(attention, layout, options)
    if holds_input and not layers:
        # Host memory of a server whose layers are all on GPUs: the embedded batch and the graph inputs.
        return widths.embedding * row + pipeline_copies * inputs
    stages = [widths.embedding * row if holds_input else 0]
    if layers:
        head_k, head_v = attention.key_length, attention.value_length
        qkv = widths.head_count * head_k + attention.head_count_kv * (head_k + head_v)
        # Like the masks (see `graph_input_bytes`), scores are sized for a full layer on every device.
        cells = layout.cells if len(attention.sliding_layers) < attention.layers else layout.sliding_cells
        scores = 0 if options.flash_attention else cells * tokens * widths.head_count * F32
        stages.append((2 * qkv + 2 * widths.embedding) * row + scores)
        router = widths.expert_count or 0
        stages.append((3 * widths.activated_feed_forward + router + 5 * widths.embedding) * row)
    if holds_output:
        stages.append((widths.vocab * min(output_rows, tokens) + 6 * widths.embedding * tokens) * F32)
    peak = max(stages)
    if not layers:
        return peak
    # Every copy of the inputs and of the hidden state handed over from the previous GPU stays allocated.
    return peak + inputs + (pipeline_copies - 1) * (inputs + widths.embedding * row)


def graph_input_bytes(attention: AttentionShape, layout: CacheLayout, options: ServerMemoryOptions) -> int:
    """Masks (one per cache: cells of one stream x batch tokens) and token positions.

    A GPU receives only the masks its layers read, but the plan counts both the full and the sliding one on every
    device of a model that has both: a GPU with few layers may hold only one kind, and counting both keeps the
    largest share from growing when a GPU is added (over-estimating by one mask at most).
    """
    tokens = batch_tokens(layout, options)
    element = F16 if options.flash_attention else F32
    sliding = bool(attention.sliding_layers)
    full = len(attention.sliding_layers) < attention.layers
    masks = element * tokens * ((layout.cells if full else 0) + (layout.sliding_cells if sliding else 0))
    return masks + tokens * 3 * F32
