"""Bits per weight of each GGUF file type, for planning a model whose tensor table was not read.

A file type names the quantization of most tensors; converters keep norms in f32 and often give the embedding
and output projection more bits, so a file averages more than its type's nominal rate. Where llama.cpp's
quantize tool (b11434, `tools/quantize/quantize.cpp`) states a file size for Llama-3-8B (8.03 B parameters),
the figure here is that size in bits over the parameters, e.g. Q4_K_M: 4.58 GiB -> 4.90 bits per weight; for
the types it describes by nominal bits per weight, that figure plus 0.1 for the tensors kept wider. When the
file was read, the plan uses the exact bytes of its tensor table instead.
"""

from __future__ import annotations

#: GGUF file type as `status.gguf.quantization` names it -> average bits per weight of a whole file.
BITS_PER_WEIGHT: dict[str, float] = {
    "F32": 32.0,
    "F16": 16.0,
    "BF16": 16.0,
    "Q8_0": 8.51,
    "Q6_K": 6.57,
    "Q5_K_M": 5.70,
    "Q5_K_S": 5.57,
    "Q5_1": 6.04,
    "Q5_0": 5.57,
    "Q4_K_M": 4.90,
    "Q4_K_S": 4.67,
    "Q4_1": 5.11,
    "Q4_0": 4.64,
    "IQ4_NL": 4.60,
    "IQ4_XS": 4.35,
    "MXFP4_MOE": 4.35,
    "Q3_K_L": 4.31,
    "Q3_K_M": 4.00,
    "Q3_K_S": 3.65,
    "IQ3_M": 3.76,
    "IQ3_S": 3.54,
    "IQ3_XS": 3.40,
    "IQ3_XXS": 3.16,
    "Q2_K": 3.17,
    "Q2_K_S": 3.17,
    "IQ2_M": 2.80,
    "IQ2_S": 2.60,
    "IQ2_XS": 2.41,
    "IQ2_XXS": 2.16,
    "TQ2_0": 2.16,
    "IQ1_M": 1.85,
    "TQ1_0": 1.79,
    "IQ1_S": 1.66,
}

#: For a file type the table does not know: 8-bit weights over-estimate every common quantization.
UNKNOWN_BITS_PER_WEIGHT = 8.51


def bits_per_weight(quantization: str | None) -> float:
    if quantization is None:
        return UNKNOWN_BITS_PER_WEIGHT
    return BITS_PER_WEIGHT.get(quantization.upper(), UNKNOWN_BITS_PER_WEIGHT)
