"""What serving a catalog model takes: weights, KV cache, GPUs and pod resources, from its size alone.

This is the one place that turns a parameter count into serving needs, so a better planner (one that reads the
GGUF's layer and head counts) can replace it without touching the catalog or the CLI. The estimate is
deliberately on the safe side: it charges every model the KV cache of a Llama-3-shaped model of its size
(grouped-query attention, f16 cache), which over-counts for sliding-window and MoE models and never under-counts
for the dense ones the catalog carries.
"""

from __future__ import annotations

import math

import attrs

# Average bits per weight of llama.cpp quantization types as llama.cpp's quantize tool reports them for
# Llama-shaped models; the "_L" variants keep embeddings and output in Q8_0 and land a little higher.
BITS_PER_WEIGHT: dict[str, float] = {
    "Q2_K": 2.96,
    "Q3_K_S": 3.50,
    "Q3_K_M": 3.91,
    "Q3_K_L": 4.27,
    "IQ4_XS": 4.25,
    "MXFP4": 4.25,
    "Q4_0": 4.55,
    "Q4_1": 5.0,
    "Q4_K_S": 4.58,
    "Q4_K_M": 4.85,
    "Q4_K_L": 4.91,
    "Q5_K_S": 5.54,
    "Q5_K_M": 5.69,
    "Q6_K": 6.56,
    "Q8_0": 8.5,
    "F16": 16.0,
    "BF16": 16.0,
}

#: The GPU a catalog default is sized for: 24 GiB (L4, A10G, RTX 4090) is the common denominator of clouds.
REFERENCE_GPU_GIB = 24.0
#: Below this many parameters a model serves well from CPU, so its catalog default asks for no GPU.
CPU_DEFAULT_BELOW_BILLIONS = 2.5
#: KV cache per token of Llama 3 8B (32 layers x 8 KV heads x 128 dims x K and V x 2 bytes); scaled by size.
KV_BYTES_PER_TOKEN_AT_8B = 32 * 8 * 128 * 2 * 2
#: llama.cpp's compute buffers and CUDA context; grows a little with the model.
RUNTIME_OVERHEAD_GIB = 0.5
MAX_GPUS = 8  # Model.spec.gpuCount's range

GIB = 2**30


@attrs.frozen(kw_only=True)
class ServingEstimate:
    weights_gib: float
    kv_cache_gib: float
    #: Weights, KV cache and runtime overhead, for all GPUs together (or host memory when serving on CPU).
    vram_gib: float
    #: GPUs a deployment asks for by default; 0 means the model serves from CPU unless told otherwise.
    gpu_count: int
    cpu: str
    #: Memory request of a CPU-serving pod: the whole model lives in it.
    memory: str


def weights_gib(*, parameters_billions: float, quantization: str) -> float:
    """Expected size of the GGUF weights; the floor under any memory estimate."""
    return parameters_billions * 1e9 * BITS_PER_WEIGHT[quantization] / 8 / GIB


def kv_cache_gib(*, parameters_billions: float, context_size: int) -> float:
    # Layers and KV heads grow with size, but sublinearly: 0.5B models keep ~1/8, 70B ones ~2.5x of an 8B's.
    scale = min(max(parameters_billions / 8, 0.125), 2.5)
    return context_size * KV_BYTES_PER_TOKEN_AT_8B * scale / GIB


def _round_up(value: float, step: float) -> float:
    return math.ceil(value / step - 1e-9) * step


def _cpus(parameters_billions: float) -> str:
    for below, cpus in ((1, "1"), (4, "2"), (10, "4")):
        if parameters_billions < below:
            return cpus
    return "8"


def estimate_serving(*, parameters_billions: float, quantization: str, context_size: int) -> ServingEstimate:
    weights = weights_gib(parameters_billions=parameters_billions, quantization=quantization)
    kv = kv_cache_gib(parameters_billions=parameters_billions, context_size=context_size)
    vram = _round_up(weights + kv + RUNTIME_OVERHEAD_GIB + 0.05 * weights, 0.5)
    if parameters_billions < CPU_DEFAULT_BELOW_BILLIONS:
        gpus = 0
    else:
        gpus = min(MAX_GPUS, math.ceil(vram / REFERENCE_GPU_GIB))
    # Half a GiB above the estimate for the server process, the prompt and the HTTP layer.
    memory = f"{math.ceil(vram + 0.5)}Gi"
    return ServingEstimate(
        weights_gib=weights,
        kv_cache_gib=kv,
        vram_gib=vram,
        gpu_count=gpus,
        cpu=_cpus(parameters_billions),
        memory=memory,
    )
