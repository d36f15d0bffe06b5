"""The KV cache llama-server (b11434) allocates for a context size and a number of slots, layer by layer.

How the server sizes it (`src/llama-context.cpp`, `src/llama-kv-cache.cpp`, `src/llama-kv-cache-iswa.cpp`):

- The context is padded up to a multiple of 256 cells. With one stream per slot (the default when `--parallel` is
  given) each slot gets `ctx / slots` cells padded up to 256 again, so the total is `slots x` that; with
  `--kv-unified` all slots share one stream of `ctx` cells. Either way the full layers hold about `ctx` cells.
- Each attention layer stores, per cell, `head_count_kv x key_length` keys and `head_count_kv x value_length`
  values (grouped-query attention shares them between query heads), at the cache type's bytes per element.
- A sliding-window layer needs only its window: per stream `min(cells, window + ubatch)` cells padded to 256
  (`window x slots + ubatch` for a unified stream), unless `--swa-full` gives it the full size.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from controller.builders.server_memory_args import CACHE_TYPE_BYTES, ServerMemoryOptions

#: llama.cpp pads context sizes and cache lengths to this many cells.
CELL_PADDING = 256


@attrs.frozen(kw_only=True)
class AttentionShape:
    """What one model's attention layers need per cached token; built from `status.gguf`."""

    layers: int
    head_count_kv: int
    key_length: int
    value_length: int
    sliding_window: int | None = None
    sliding_layers: frozenset[int] = frozenset()


@attrs.frozen(kw_only=True)
class CacheLayout:
    """Cells the server allocates: `streams` streams of `cells` for full layers, of `sliding_cells` for sliding."""

    context_size: int
    streams: int
    cells: int
    sliding_cells: int


def pad(value: int, to: int = CELL_PADDING) -> int:
    return -(-value // to) * to


def cache_layout(
    *, context_size: int, slots: int, sliding_window: int | None, options: ServerMemoryOptions
) -> CacheLayout:
    """How many cells each stream holds, as llama-server derives it from `--ctx-size` and `--parallel`."""
    context = pad(max(context_size, 1))
    slots = max(slots, 1)
    if options.kv_unified:
        streams, cells = 1, context
    else:
        streams, cells = slots, pad(context // slots)
        context = cells * slots
    # The physical batch never exceeds the logical one, which never exceeds the context.
    ubatch = min(options.ubatch, options.batch, context)
    if sliding_window is None or options.swa_full:
        sliding = cells
    else:
        window = sliding_window * (slots if options.kv_unified else 1)
        sliding = pad(min(cells, window + ubatch))
    return CacheLayout(context_size=context, streams=streams, cells=cells, sliding_cells=sliding)


def layer_kv_bytes(shape: AttentionShape, layout: CacheLayout, options: ServerMemoryOptions) -> list[int]:
    """Bytes of keys plus values for each layer, in layer order."""
    key_bytes = shape.head_count_kv * shape.key_length * CACHE_TYPE_BYTES[options.cache_type_k]
    value_bytes = shape.head_count_kv * shape.value_length * CACHE_TYPE_BYTES[options.cache_type_v]
    per_cell = key_bytes + value_bytes
    return [
        int(
            per_cell
            * layout.streams
            * (layout.sliding_cells if layer in shape.sliding_layers else layout.cells)
        )
        for layer in range(shape.layers)
    ]


def kv_bytes_for_layers(per_layer: Sequence[int], layers: Sequence[int]) -> int:
    return sum(per_layer[layer] for layer in layers)
