from __future__ import annotations

import attrs
import pytest

from api.v1alpha1.gguf import GGUFInfo
from controller.builders.memory_plan import (
    GPU_OVERHEAD_BYTES,
    HOST_OVERHEAD_BYTES,
    PlanUnavailable,
    memory_plan,
)
from controller.builders.server_memory_args import ServerMemoryOptions
from tests.unit.builders.model_shapes import GEMMA3_270M, LLAMA_8B, LLAMA_70B

GIB = 1 << 30


def test_a_cpu_plan_holds_everything_in_host_memory() -> None:
    plan = memory_plan(LLAMA_8B, context_size=16_384, parallel_slots=4, gpu_count=0)

    assert plan.gpus == ()
    assert plan.host.weights_bytes == LLAMA_8B.weight_bytes
    assert plan.host.kv_bytes == 2 * GIB
    assert plan.host.overhead_bytes == HOST_OVERHEAD_BYTES
    assert plan.total_bytes == plan.host.total_bytes
    assert plan.weights_source == "tensors"


def test_without_the_tensor_table_weights_are_parameters_times_bits_per_weight() -> None:
    plan = memory_plan(LLAMA_70B, context_size=4096, parallel_slots=1, gpu_count=0)

    assert plan.weights_source == "parameters"
    assert plan.weights_bytes == int(70_553_706_496 * 4.90 / 8)


def test_two_gpus_take_the_layers_in_two_runs_and_the_last_takes_the_output_layer() -> None:
    plan = memory_plan(LLAMA_8B, context_size=16_384, parallel_slots=4, gpu_count=2)

    # 33 units (32 layers + output) split evenly: units 0-16 on the first GPU, 17-32 on the second.
    assert [(g.layers, g.holds_output) for g in plan.gpus] == [(17, False), (15, True)]
    assert [g.overhead_bytes for g in plan.gpus] == [GPU_OVERHEAD_BYTES] * 2


def test_each_layers_kv_cache_lives_on_the_gpu_that_holds_the_layer() -> None:
    plan = memory_plan(LLAMA_8B, context_size=16_384, parallel_slots=4, gpu_count=2)

    per_layer = 2 * GIB // 32
    assert [g.kv_bytes for g in plan.gpus] == [17 * per_layer, 15 * per_layer]
    assert plan.host.kv_bytes == 0


def test_the_token_embedding_stays_in_host_memory_and_the_output_projection_goes_to_the_last_gpu() -> None:
    plan = memory_plan(LLAMA_8B, context_size=4096, parallel_slots=1, gpu_count=2)
    assert LLAMA_8B.weight_bytes
    assert LLAMA_8B.token_embedding_bytes
    assert LLAMA_8B.output_bytes
    layers = LLAMA_8B.weight_bytes - LLAMA_8B.token_embedding_bytes - LLAMA_8B.output_bytes

    assert plan.host.weights_bytes == LLAMA_8B.token_embedding_bytes
    assert plan.gpus[0].weights_bytes == pytest.approx(layers * 17 / 32, abs=32)
    assert plan.gpus[1].weights_bytes == pytest.approx(layers * 15 / 32 + LLAMA_8B.output_bytes, abs=32)
    assert plan.weights_bytes == LLAMA_8B.weight_bytes


def test_a_tied_output_is_the_embedding_copied_to_the_gpu() -> None:
    plan = memory_plan(GEMMA3_270M, context_size=4096, parallel_slots=1, gpu_count=1)
    assert GEMMA3_270M.weight_bytes
    assert GEMMA3_270M.token_embedding_bytes

    assert plan.host.weights_bytes == GEMMA3_270M.token_embedding_bytes
    assert plan.gpus[0].weights_bytes == GEMMA3_270M.weight_bytes  # every layer, plus the embedding's copy


def test_sliding_window_layers_cost_a_fraction_of_full_layers() -> None:
    full = attrs.evolve(GEMMA3_270M, sliding_window=None, sliding_window_layers=None)

    sliding_plan = memory_plan(GEMMA3_270M, context_size=32_768, parallel_slots=1, gpu_count=0)
    full_plan = memory_plan(full, context_size=32_768, parallel_slots=1, gpu_count=0)

    # 3 full layers of 32768 cells and 15 sliding layers of 1024 cells, against 18 full layers.
    assert sliding_plan.kv_bytes * 18 * 32_768 == full_plan.kv_bytes * (3 * 32_768 + 15 * 1024)


def test_no_kv_offload_keeps_the_cache_in_host_memory() -> None:
    plan = memory_plan(
        LLAMA_8B,
        context_size=16_384,
        parallel_slots=4,
        gpu_count=1,
        options=ServerMemoryOptions(kv_offload=False),
    )

    assert plan.host.kv_bytes == 2 * GIB
    assert plan.gpus[0].kv_bytes == 0


def test_turning_flash_attention_off_grows_the_compute_buffers_with_the_context() -> None:
    on = memory_plan(LLAMA_8B, context_size=32_768, parallel_slots=1, gpu_count=1)
    off = memory_plan(
        LLAMA_8B,
        context_size=32_768,
        parallel_slots=1,
        gpu_count=1,
        options=ServerMemoryOptions(flash_attention=False),
    )

    # Attention scores: 32768 cells x 512 tokens x 32 heads x 4 bytes = 2 GiB, against the feed-forward's 124 MiB.
    assert on.gpus[0].compute_bytes < GIB // 2
    assert off.gpus[0].compute_bytes > 2 * GIB


def test_the_plan_reports_the_context_the_server_ends_up_with() -> None:
    plan = memory_plan(LLAMA_8B, context_size=10_000, parallel_slots=3, gpu_count=0)

    assert plan.context_size == 3 * 3584  # 10000 -> 10240, / 3 -> 3413, padded to 3584 per slot


def test_a_gguf_without_the_models_shape_cannot_be_planned() -> None:
    with pytest.raises(PlanUnavailable, match="lacks blockCount, headCount"):
        memory_plan(
            GGUFInfo(architecture="llama", embedding_length=4096, parameter_count=8_000_000_000),
            context_size=4096,
            parallel_slots=1,
            gpu_count=0,
        )


def test_a_gguf_without_tensor_sizes_or_parameter_count_cannot_be_planned() -> None:
    bare = attrs.evolve(LLAMA_70B, parameter_count=None)

    with pytest.raises(PlanUnavailable, match="parameter count"):
        memory_plan(bare, context_size=4096, parallel_slots=1, gpu_count=1)


def test_context_and_slots_in_extra_args_win_as_on_the_command_line() -> None:
    plan = memory_plan(
        LLAMA_8B,
        context_size=4096,
        parallel_slots=1,
        gpu_count=0,
        options=ServerMemoryOptions(context_size=16_384, parallel=4),
    )

    assert (plan.context_size, plan.parallel_slots, plan.kv_bytes) == (16_384, 4, 2 * GIB)


def test_layers_not_offloaded_stay_in_host_memory_with_their_cache() -> None:
    plan = memory_plan(
        LLAMA_8B,
        context_size=16_384,
        parallel_slots=4,
        gpu_count=1,
        options=ServerMemoryOptions(n_gpu_layers=20),
    )

    # The last 20 of 33 units (32 layers + output) are offloaded: layers 13-31 and the output layer.
    assert (plan.host.layers, plan.gpus[0].layers, plan.gpus[0].holds_output) == (13, 19, True)
    assert plan.host.kv_bytes == 13 * (2 * GIB // 32)
    assert plan.weights_bytes == LLAMA_8B.weight_bytes


def test_no_offloaded_layers_put_everything_in_host_memory_but_the_gpu_overhead() -> None:
    plan = memory_plan(
        LLAMA_8B,
        context_size=4096,
        parallel_slots=1,
        gpu_count=1,
        options=ServerMemoryOptions(n_gpu_layers=0),
    )

    assert plan.host.weights_bytes == LLAMA_8B.weight_bytes
    assert (plan.gpus[0].weights_bytes, plan.gpus[0].kv_bytes) == (0, 0)
