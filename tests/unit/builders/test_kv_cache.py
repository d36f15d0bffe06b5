from __future__ import annotations

from controller.builders.kv_cache import AttentionShape, cache_layout, layer_kv_bytes
from controller.builders.server_memory_args import ServerMemoryOptions

DEFAULTS = ServerMemoryOptions()
GIB = 1 << 30


def test_the_context_is_padded_to_256_cells_and_split_evenly_between_slots() -> None:
    layout = cache_layout(context_size=1000, slots=3, sliding_window=None, options=DEFAULTS)

    # 1000 -> 1024 cells; 1024 / 3 = 341 per slot, padded to 512; three streams of 512.
    assert (layout.streams, layout.cells, layout.context_size) == (3, 512, 1536)


def test_a_unified_cache_is_one_stream_of_the_whole_context() -> None:
    layout = cache_layout(
        context_size=1000, slots=3, sliding_window=None, options=ServerMemoryOptions(kv_unified=True)
    )

    assert (layout.streams, layout.cells, layout.context_size) == (1, 1024, 1024)


def test_llama_8b_needs_two_gib_of_f16_cache_for_16k_tokens() -> None:
    shape = AttentionShape(layers=32, head_count_kv=8, key_length=128, value_length=128)
    layout = cache_layout(context_size=16_384, slots=4, sliding_window=None, options=DEFAULTS)

    assert sum(layer_kv_bytes(shape, layout, DEFAULTS)) == 2 * GIB


def test_a_q8_0_cache_takes_34_bytes_per_32_values() -> None:
    shape = AttentionShape(layers=32, head_count_kv=8, key_length=128, value_length=128)
    options = ServerMemoryOptions(cache_type_k="q8_0", cache_type_v="q8_0")
    layout = cache_layout(context_size=16_384, slots=1, sliding_window=None, options=options)

    assert sum(layer_kv_bytes(shape, layout, options)) == 2 * GIB * 34 // 64


def test_sliding_layers_keep_their_window_plus_one_batch_per_slot() -> None:
    shape = AttentionShape(
        layers=3,
        head_count_kv=1,
        key_length=256,
        value_length=256,
        sliding_window=512,
        sliding_layers=frozenset({0, 1}),
    )
    layout = cache_layout(context_size=32_768, slots=4, sliding_window=512, options=DEFAULTS)

    per_layer = layer_kv_bytes(shape, layout, DEFAULTS)

    assert layout.sliding_cells == 1024  # 512 window + 512 batch tokens, per stream
    assert per_layer[0] == per_layer[1] == 4 * 1024 * 512 * 2
    assert per_layer[2] == 4 * 8192 * 512 * 2  # the full layer holds the whole context


def test_a_unified_cache_gives_sliding_layers_one_window_per_slot() -> None:
    options = ServerMemoryOptions(kv_unified=True)
    layout = cache_layout(context_size=32_768, slots=4, sliding_window=512, options=options)

    assert layout.sliding_cells == 4 * 512 + 512


def test_swa_full_gives_sliding_layers_the_whole_context() -> None:
    options = ServerMemoryOptions(swa_full=True)
    layout = cache_layout(context_size=32_768, slots=4, sliding_window=512, options=options)

    assert layout.sliding_cells == layout.cells == 8192


def test_a_window_larger_than_the_context_is_capped_at_the_context() -> None:
    layout = cache_layout(context_size=2048, slots=1, sliding_window=4096, options=DEFAULTS)

    assert layout.sliding_cells == layout.cells == 2048
