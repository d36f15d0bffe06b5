"""The llama-server flags that change how much memory it allocates, read from a service's extraArgs.

The operator passes `--ctx-size`, `--parallel` and `--n-gpu-layers` itself; users may add flags that resize the
KV cache or the compute buffers. Defaults are llama.cpp b11434's (`common/common.h`, `common/arg.cpp`): f16 KV
cache, one KV stream per slot when `--parallel` is given (the server turns the unified cache on only when the slot
count is left to it), window-sized caches for sliding-window layers, logical batch 2048, physical batch 512,
flash attention on where the backend supports it (CPU, CUDA, ROCm and Metal all do). As with every llama.cpp
flag, the last occurrence wins, matching how the server parses the command line.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

#: Bytes per element of each KV cache type llama-server accepts for `--cache-type-k/-v` (ggml's block sizes).
CACHE_TYPE_BYTES: dict[str, float] = {
    "f32": 4.0,
    "f16": 2.0,
    "bf16": 2.0,
    "q8_0": 34 / 32,
    "q4_0": 18 / 32,
    "q4_1": 20 / 32,
    "iq4_nl": 18 / 32,
    "q5_0": 22 / 32,
    "q5_1": 24 / 32,
}


@attrs.frozen(kw_only=True)
class ServerMemoryOptions:
    cache_type_k: str = "f16"
    cache_type_v: str = "f16"
    #: `--swa-full`: sliding-window layers get a cache as large as the full layers'.
    swa_full: bool = False
    #: `--kv-unified`: one KV stream shared by all slots instead of one per slot.
    kv_unified: bool = False
    batch: int = 2048
    ubatch: int = 512
    flash_attention: bool = True
    #: `--no-kv-offload`: the KV cache stays in host memory even when layers are on GPUs.
    kv_offload: bool = True
    #: `--ctx-size`, `--parallel` and `--n-gpu-layers` given in extraArgs, which win over the operator's own
    #: (llama-server takes the last occurrence); None when extraArgs leave them to the operator.
    context_size: int | None = None
    parallel: int | None = None
    n_gpu_layers: int | None = None
    #: `--embedding`, `--rerank` or a `--pooling` other than none: every token of a batch is an output.
    embedding: bool = False

    def output_rows(self, slots: int) -> int:
        """Rows of logits the server reserves: one per slot for generation, the whole batch for embeddings.

        llama-server (b11434) caps a batch's outputs at one token per slot (more with speculative decoding, which
        the plan does not model), so the logits are sized for the slots, not for the 512 tokens of a batch.
        """
        return self.batch if self.embedding else min(self.batch, slots)


_VALUE_FLAGS = {
    "-ctk": "cache_type_k",
    "--cache-type-k": "cache_type_k",
    "-ctv": "cache_type_v",
    "--cache-type-v": "cache_type_v",
    "-b": "batch",
    "--batch-size": "batch",
    "-ub": "ubatch",
    "--ubatch-size": "ubatch",
    "-fa": "flash_attention",
    "--flash-attn": "flash_attention",
    "-c": "context_size",
    "--ctx-size": "context_size",
    "-np": "parallel",
    "--parallel": "parallel",
    "--pooling": "embedding",
    "-ngl": "n_gpu_layers",
    "--gpu-layers": "n_gpu_layers",
    "--n-gpu-layers": "n_gpu_layers",
}
_SWITCHES = {
    "--embedding": ("embedding", True),
    "--embeddings": ("embedding", True),
    "--rerank": ("embedding", True),
    "--reranking": ("embedding", True),
    "--swa-full": ("swa_full", True),
    "-kvu": ("kv_unified", True),
    "--kv-unified": ("kv_unified", True),
    "-no-kvu": ("kv_unified", False),
    "--no-kv-unified": ("kv_unified", False),
    "-kvo": ("kv_offload", True),
    "--kv-offload": ("kv_offload", True),
    "-nkvo": ("kv_offload", False),
    "--no-kv-offload": ("kv_offload", False),
}


def server_memory_options(extra_args: Sequence[str] | None) -> ServerMemoryOptions:
    """The memory-relevant settings of a server started with these extraArgs; unknown flags are ignored.

    A value llama-server would reject (an unknown cache type, a batch of "x") is kept as the default: the server
    fails to start with its own message, which is clearer than a plan about a configuration that never runs.
    """
    values: dict[str, object] = {}
    args = list(extra_args or ())
    i = 0
    while i < len(args):
        flag, _, inline = args[i].partition("=")
        if flag in _SWITCHES:
            name, switch = _SWITCHES[flag]
            values[name] = switch
        elif flag in _VALUE_FLAGS:
            value = inline if inline else (args[i + 1] if i + 1 < len(args) else "")
            if not inline:
                i += 1
            _set(values, _VALUE_FLAGS[flag], value)
        i += 1
    return ServerMemoryOptions(**values)  # type: ignore[arg-type]


def _set(values: dict[str, object], name: str, value: str) -> None:
    if name in ("cache_type_k", "cache_type_v"):
        if value.lower() in CACHE_TYPE_BYTES:
            values[name] = value.lower()
    elif name in ("batch", "ubatch"):
        if value.isdigit() and int(value) > 0:
            values[name] = int(value)
    elif name == "flash_attention":
        # "auto" resolves to on for every backend the operator deploys; only an explicit "off" turns it off.
        values[name] = value.lower() not in ("off", "0", "false", "disabled")
    elif name == "context_size":
        if (
            value.isdigit() and int(value) > 0
        ):  # 0 means the model's whole trained context: left to the caller
            values[name] = int(value)
    elif name == "parallel":
        if value == "-1":  # "auto": four slots sharing one unified cache
            values[name] = 4
            values["kv_unified"] = True
        elif value.isdigit() and int(value) > 0:
            values[name] = int(value)
    elif name == "embedding":
        values[name] = value.lower() != "none"
    elif name == "n_gpu_layers" and value.isdigit():
        # "all" and "auto" offload every layer that fits, which is what the plan assumes by default.
        values[name] = int(value)
