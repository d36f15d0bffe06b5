"""The one serving estimate: parameters x bits per weight, plus KV cache and overhead, rounded to GPUs."""

from __future__ import annotations

from llmkube.catalog import estimate_serving
from llmkube.catalog.estimate import REFERENCE_GPU_GIB


def test_an_8b_model_at_q4_fits_one_gpu_with_about_six_gib() -> None:
    estimate = estimate_serving(parameters_billions=8.0, quantization="Q4_K_M", context_size=8192)
    assert 4.4 < estimate.weights_gib < 4.6
    assert estimate.gpu_count == 1
    assert 6 <= estimate.vram_gib <= 7


def test_a_70b_model_at_q4_needs_two_reference_gpus() -> None:
    estimate = estimate_serving(parameters_billions=70.6, quantization="Q4_K_M", context_size=8192)
    assert REFERENCE_GPU_GIB < estimate.vram_gib <= 2 * REFERENCE_GPU_GIB
    assert estimate.gpu_count == 2


def test_small_models_default_to_cpu_with_memory_for_the_whole_model() -> None:
    estimate = estimate_serving(parameters_billions=1.5, quantization="Q4_K_M", context_size=8192)
    assert estimate.gpu_count == 0
    assert estimate.memory == "3Gi"


def test_a_longer_context_costs_kv_cache_memory() -> None:
    short = estimate_serving(parameters_billions=8.0, quantization="Q4_K_M", context_size=4096)
    long = estimate_serving(parameters_billions=8.0, quantization="Q4_K_M", context_size=65536)
    assert long.kv_cache_gib == 16 * short.kv_cache_gib
    assert long.vram_gib > short.vram_gib + 7


def test_more_bits_per_weight_means_bigger_weights() -> None:
    q4 = estimate_serving(parameters_billions=14.0, quantization="Q4_K_M", context_size=8192)
    q8 = estimate_serving(parameters_billions=14.0, quantization="Q8_0", context_size=8192)
    assert q8.weights_gib > 1.7 * q4.weights_gib


def test_an_entry_with_a_shape_is_planned_by_the_controllers_estimator_and_one_without_is_labelled() -> None:
    from llmkube.catalog import list_models

    shaped = [m for m in list_models() if m.shape is not None]
    unshaped = [m for m in list_models() if m.shape is None]
    assert shaped
    assert all(m.estimate.plan is not None for m in shaped)
    assert all(m.estimate.plan is None and "estimate" in m.estimate.summary for m in unshaped)
