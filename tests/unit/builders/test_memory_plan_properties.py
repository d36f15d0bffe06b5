"""Properties of the memory plan over model shapes like the ones people serve."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from api.v1alpha1.gguf import GGUFInfo
from controller.builders.compute_buffers import batch_tokens, graph_input_bytes
from controller.builders.kv_cache import AttentionShape, CacheLayout, cache_layout, layer_kv_bytes
from controller.builders.memory_plan import PIPELINE_COPIES, memory_plan, model_shape
from controller.builders.server_memory_args import ServerMemoryOptions


@st.composite
def models(draw: st.DrawFn) -> GGUFInfo:
    layers = draw(st.integers(min_value=8, max_value=128))
    head_dim = draw(st.sampled_from([64, 128, 256]))
    heads = draw(st.sampled_from([8, 16, 32, 64, 128]))
    kv_heads = draw(st.sampled_from([h for h in (1, 2, 4, 8, 16, 32) if heads % h == 0]))
    embedding = heads * head_dim
    vocab = draw(st.sampled_from([32_000, 49_152, 128_256, 151_936, 262_144]))
    sliding: list[int] | None = None
    window = None
    if draw(st.booleans()):
        period = draw(st.integers(min_value=2, max_value=6))
        sliding = [layer for layer in range(layers) if layer % period < period - 1]
        window = draw(st.sampled_from([512, 1024, 4096]))
    parameters = layers * 12 * embedding * embedding + 2 * vocab * embedding
    with_tensors = draw(st.booleans())
    return GGUFInfo(
        architecture="llama",
        parameter_count=parameters,
        block_count=layers,
        embedding_length=embedding,
        head_count=heads,
        head_count_kv=kv_heads,
        feed_forward_length=4 * embedding,
        vocab_size=vocab,
        quantization=draw(st.sampled_from(["Q4_K_M", "Q8_0", "F16", "Q2_K"])),
        sliding_window=window,
        sliding_window_layers=sliding,
        weight_bytes=parameters * 5 // 8 if with_tensors else None,
        token_embedding_bytes=vocab * embedding * 5 // 8 if with_tensors else None,
    )


contexts = st.integers(min_value=256, max_value=131_072)
slot_counts = st.integers(min_value=1, max_value=16)
gpu_counts = st.integers(min_value=0, max_value=8)
options = st.builds(
    ServerMemoryOptions,
    cache_type_k=st.sampled_from(["f16", "q8_0", "q4_0"]),
    cache_type_v=st.sampled_from(["f16", "q8_0", "q4_0"]),
    swa_full=st.booleans(),
    kv_unified=st.booleans(),
    flash_attention=st.booleans(),
)


@given(
    model=models(),
    context=contexts,
    more=st.integers(1, 65_536),
    slots=slot_counts,
    gpus=gpu_counts,
    opts=options,
)
def test_a_longer_context_never_needs_less(
    model: GGUFInfo, context: int, more: int, slots: int, gpus: int, opts: ServerMemoryOptions
) -> None:
    shorter = memory_plan(model, context_size=context, parallel_slots=slots, gpu_count=gpus, options=opts)
    longer = memory_plan(
        model, context_size=context + more, parallel_slots=slots, gpu_count=gpus, options=opts
    )

    assert longer.total_bytes >= shorter.total_bytes
    assert longer.kv_bytes >= shorter.kv_bytes
    assert longer.largest_gpu_share_bytes >= shorter.largest_gpu_share_bytes


@given(model=models(), per_slot=st.integers(256, 16_384), slots=slot_counts, gpus=gpu_counts, opts=options)
def test_more_slots_of_the_same_length_never_need_less(
    model: GGUFInfo, per_slot: int, slots: int, gpus: int, opts: ServerMemoryOptions
) -> None:
    fewer = memory_plan(
        model, context_size=per_slot * slots, parallel_slots=slots, gpu_count=gpus, options=opts
    )
    more = memory_plan(
        model, context_size=per_slot * (slots + 1), parallel_slots=slots + 1, gpu_count=gpus, options=opts
    )

    assert more.total_bytes >= fewer.total_bytes
    assert more.largest_gpu_share_bytes >= fewer.largest_gpu_share_bytes


@given(model=models(), context=contexts, slots=slot_counts, gpus=st.integers(1, 7), opts=options)
def test_another_gpu_never_grows_the_largest_share_beyond_what_llama_cpp_replicates(
    model: GGUFInfo, context: int, slots: int, gpus: int, opts: ServerMemoryOptions
) -> None:
    """Two effects of how llama.cpp allocates can grow the largest share by a little when a GPU is added:

    - going from one GPU to two starts the pipeline, which keeps copies of each GPU's inputs (masks, hidden state);
    - with sliding-window layers, regrouping can put a full layer where a sliding one was: at most the difference
      between a full and a sliding layer's cache.
    """
    fewer = memory_plan(model, context_size=context, parallel_slots=slots, gpu_count=gpus, options=opts)
    more = memory_plan(model, context_size=context, parallel_slots=slots, gpu_count=gpus + 1, options=opts)

    bound = _replicated_inputs(model, context=context, slots=slots, options=opts) if gpus == 1 else 0
    bound += _full_minus_sliding_layer_kv(model, context=context, slots=slots, options=opts)
    assert more.largest_gpu_share_bytes <= fewer.largest_gpu_share_bytes + bound


def _layout(
    model: GGUFInfo, *, context: int, slots: int, options: ServerMemoryOptions
) -> tuple[AttentionShape, CacheLayout]:
    attention, _ = model_shape(model)
    layout = cache_layout(
        context_size=context, slots=slots, sliding_window=attention.sliding_window, options=options
    )
    return attention, layout


def _replicated_inputs(model: GGUFInfo, *, context: int, slots: int, options: ServerMemoryOptions) -> int:
    attention, layout = _layout(model, context=context, slots=slots, options=options)
    hidden = (model.embedding_length or 0) * batch_tokens(layout, options) * 4
    return (PIPELINE_COPIES - 1) * (graph_input_bytes(attention, layout, options) + hidden)


def _full_minus_sliding_layer_kv(
    model: GGUFInfo, *, context: int, slots: int, options: ServerMemoryOptions
) -> int:
    attention, layout = _layout(model, context=context, slots=slots, options=options)
    per_layer = layer_kv_bytes(attention, layout, options)
    return max(per_layer) - min(per_layer)


@given(model=models(), context=contexts, slots=slot_counts, gpus=gpu_counts, opts=options)
def test_the_shares_add_up_to_the_total(
    model: GGUFInfo, context: int, slots: int, gpus: int, opts: ServerMemoryOptions
) -> None:
    plan = memory_plan(model, context_size=context, parallel_slots=slots, gpu_count=gpus, options=opts)
    shares = [plan.host, *plan.gpus]

    assert len(plan.gpus) == gpus
    assert sum(share.total_bytes for share in shares) == plan.total_bytes
    assert sum(share.weights_bytes for share in shares) == plan.weights_bytes
    assert sum(share.kv_bytes for share in shares) == plan.kv_bytes
    assert sum(share.layers for share in shares) == model.block_count
    assert sum(share.holds_output for share in shares) == 1


@given(model=models(), context=contexts, other=contexts, slots=slot_counts, gpus=gpu_counts)
def test_the_weights_do_not_depend_on_the_context(
    model: GGUFInfo, context: int, other: int, slots: int, gpus: int
) -> None:
    one = memory_plan(model, context_size=context, parallel_slots=slots, gpu_count=gpus)
    two = memory_plan(model, context_size=other, parallel_slots=slots, gpu_count=gpus)

    assert one.weights_bytes == two.weights_bytes
    assert [g.weights_bytes for g in one.gpus] == [g.weights_bytes for g in two.gpus]
