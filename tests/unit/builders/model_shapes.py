"""`status.gguf` of well-known model shapes, as the fetcher records them, for planning tests."""

from __future__ import annotations

from api.v1alpha1.gguf import GGUFInfo

#: Llama 3.1 8B Instruct, Q4_K_M, with the tensor table read (embedding in Q4_K, output projection in Q6_K).
LLAMA_8B = GGUFInfo(
    architecture="llama",
    parameter_count=8_030_261_248,
    context_length=131_072,
    block_count=32,
    embedding_length=4096,
    head_count=32,
    head_count_kv=8,
    feed_forward_length=14_336,
    vocab_size=128_256,
    file_type="MOSTLY_Q4_K_M",
    quantization="Q4_K_M",
    weight_bytes=4_920_734_208,
    token_embedding_bytes=295_501_824,
    output_bytes=430_940_160,
)

#: Llama 3.1 70B, Q4_K_M, from its header only (the plan falls back to parameters x bits per weight).
LLAMA_70B = GGUFInfo(
    architecture="llama",
    parameter_count=70_553_706_496,
    context_length=131_072,
    block_count=80,
    embedding_length=8192,
    head_count=64,
    head_count_kv=8,
    feed_forward_length=28_672,
    vocab_size=128_256,
    file_type="MOSTLY_Q4_K_M",
    quantization="Q4_K_M",
)

#: Llama 3.1 405B, Q4_K_M, header only: too large for eight 80 GiB GPUs.
LLAMA_405B = GGUFInfo(
    architecture="llama",
    parameter_count=405_853_388_800,
    block_count=126,
    embedding_length=16_384,
    head_count=128,
    head_count_kv=8,
    feed_forward_length=53_248,
    vocab_size=128_256,
    quantization="Q4_K_M",
)

#: Gemma 3 270M, Q4_K_M: five of every six layers slide over a 512-token window; tied output.
GEMMA3_270M = GGUFInfo(
    architecture="gemma3",
    parameter_count=268_098_176,
    context_length=32_768,
    block_count=18,
    embedding_length=640,
    head_count=4,
    head_count_kv=1,
    key_length=256,
    value_length=256,
    feed_forward_length=2048,
    vocab_size=262_144,
    quantization="Q4_K_M",
    sliding_window=512,
    sliding_window_layers=[0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16],
    weight_bytes=246_587_904,
    token_embedding_bytes=178_257_920,
)

#: Qwen3 30B-A3B, Q4_K_M: 128 experts, 8 routed per token.
QWEN3_MOE = GGUFInfo(
    architecture="qwen3moe",
    parameter_count=30_532_122_624,
    block_count=48,
    embedding_length=2048,
    head_count=32,
    head_count_kv=4,
    key_length=128,
    value_length=128,
    feed_forward_length=6144,
    expert_feed_forward_length=768,
    expert_count=128,
    expert_used_count=8,
    vocab_size=151_936,
    quantization="Q4_K_M",
)
