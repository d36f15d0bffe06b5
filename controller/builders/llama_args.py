"""The llama-server command line, shared by serving pods and the host agent.

Defaults come from measurements with llama.cpp b11434 on an H100 (3B- and 8B-shaped Q4_K_M models):

- Without `--ctx-size` the server reserves a KV cache for the model's whole training context (14-16 GiB) and ran
  ~20% slower with 4 concurrent streams. `--ctx-size` is shared by the slots (with `--parallel` set, the KV cache
  is split evenly per slot), so the default is `slots x 4096`, each slot capped at the model's own context.
- `--parallel` is the throughput knob: 16 slots gave 3.6-4.2x single-stream throughput at 16 clients. The default
  stays modest (4 on a GPU, 2 on a CPU) because every slot costs KV memory; `parallelSlots` raises it.
- Saving idle slots to the host prompt cache cost 30-160 ms per new request, and that cache may grow to 8 GiB of
  host memory by default, which a pod's memory limit would not survive; `--cache-ram 0` turns it off.
- Flash attention is already on ("auto") in this build, so it is not passed.
- `--alias <service name>`: without it, `/v1/models` and the `model` field of every answer show the file path
  (`/models/<key>/model.gguf`); with it they carry the name users deployed, which the gateway also routes by.

Every flag the operator chooses beyond the required ones lives in `TUNING_FLAGS`, so checking them against a new
llama.cpp build means reading one line. extraArgs come last: llama.cpp lets the last occurrence of a flag win, so
users can override any default except the reserved `--model/--host/--port`.

The returned list holds arguments only, without the program: the server images' entrypoint is llama-server, and
the host agent prepends the path of its own binary.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from api.v1alpha1.gguf import GGUFInfo
from api.v1alpha1.inferenceservice import RESERVED_ARGS, InferenceServiceSpec
from api.v1alpha1.model import ModelSpec

#: Accelerators that put the weights on a GPU when no count is given anywhere.
GPU_ACCELERATORS = ("nvidia", "amd", "metal")

#: Offload every layer; larger than any model's block count, and understood by every llama.cpp build.
ALL_LAYERS = 999
PER_SLOT_CONTEXT = 4096
DEFAULT_GPU_SLOTS = 4
DEFAULT_CPU_SLOTS = 2

#: Operator-chosen flags beyond the required ones; all accepted by llama.cpp b11434 (`llama-server --help`).
TUNING_FLAGS: tuple[str, ...] = ("--cache-ram", "0")


class ReservedArgumentError(ValueError):
    """extraArgs tried to set a flag the operator owns (the API server normally rejects this already)."""


@attrs.frozen(kw_only=True)
class ServingShape:
    """How one server process uses its hardware; also what InferenceService status reports."""

    gpu_count: int
    n_gpu_layers: int
    parallel_slots: int
    context_size: int
    #: `--tensor-split` value for more than one GPU ("1,1" for two), else None.
    tensor_split: str | None


def explicit_gpu_count(spec: InferenceServiceSpec, model: ModelSpec | None) -> int | None:
    """The count the user wrote: the service's, else the Model's; 0 for CPU services; None when nobody said."""
    accelerator = spec.accelerator
    if accelerator.type == "cpu":
        # A Model's gpuCount is a default for GPU services; it never turns a CPU service into a GPU one.
        return 0
    if accelerator.gpu_count is not None:
        return accelerator.gpu_count
    if model is not None and model.gpu_count is not None:
        return model.gpu_count
    return None


def gpu_count(spec: InferenceServiceSpec, model: ModelSpec | None) -> int:
    """GPUs per pod without a memory plan: the count written, else 1 on GPU accelerators and 0 on cpu/host."""
    explicit = explicit_gpu_count(spec, model)
    if explicit is not None:
        return explicit
    return 1 if spec.accelerator.type in GPU_ACCELERATORS else 0


def even_tensor_split(count: int) -> str | None:
    """Equal shares per GPU; llama.cpp normalises the ratios, so "1,1" means half each."""
    return ",".join(["1"] * count) if count > 1 else None


def parallel_slots(spec: InferenceServiceSpec, *, gpus: int) -> int:
    """Requests one server runs at once (`--parallel`): what the gateway admits per ready replica."""
    return spec.parallel_slots or (DEFAULT_GPU_SLOTS if gpus > 0 else DEFAULT_CPU_SLOTS)


def serving_shape(
    spec: InferenceServiceSpec,
    model: ModelSpec | None,
    gguf: GGUFInfo | None = None,
    *,
    chosen_gpus: int | None = None,
) -> ServingShape:
    """The shape in force; `chosen_gpus` is the count the memory plan picked when nobody wrote one."""
    gpus = chosen_gpus if chosen_gpus is not None else gpu_count(spec, model)
    slots = parallel_slots(spec, gpus=gpus)
    if spec.context_size is not None:
        context = spec.context_size
    else:
        per_slot = PER_SLOT_CONTEXT
        if gguf is not None and gguf.context_length:
            per_slot = min(per_slot, gguf.context_length)
        context = slots * per_slot
    return ServingShape(
        gpu_count=gpus,
        n_gpu_layers=ALL_LAYERS if gpus > 0 else 0,
        parallel_slots=slots,
        context_size=context,
        tensor_split=even_tensor_split(gpus),
    )


def reserved_argument(arg: str) -> str | None:
    """The reserved flag `arg` sets (`--port` or `--port=9000`), or None."""
    for flag in RESERVED_ARGS:
        if arg == flag or (flag.startswith("--") and arg.startswith(flag + "=")):
            return flag
    return None


def validated_extra_args(extra_args: Sequence[str] | None) -> list[str]:
    args = list(extra_args or ())
    for arg in args:
        flag = reserved_argument(arg)
        if flag is not None:
            raise ReservedArgumentError(
                f"spec.extraArgs may not set {flag} (found {arg!r}): the operator sets --model from modelRef "
                "and --host/--port from spec.endpoint; remove it from extraArgs"
            )
    return args


def llama_server_args(
    *,
    alias: str,
    spec: InferenceServiceSpec,
    model: ModelSpec | None,
    model_path: str,
    gguf: GGUFInfo | None = None,
    host: str = "0.0.0.0",
    port: int | None = None,
    api_key_file: str | None = None,
    chosen_gpus: int | None = None,
) -> list[str]:
    """Arguments for llama-server serving `model_path` as `spec` asks, named `alias` (the InferenceService's
    name); raises ReservedArgumentError.

    `api_key_file` is where the API key of `spec.apiKeySecretRef` is mounted: the key itself never becomes an
    argument, which `ps`, `kubectl describe` and the audit log would show.
    """
    extra = validated_extra_args(spec.extra_args)
    shape = serving_shape(spec, model, gguf, chosen_gpus=chosen_gpus)
    args = [
        "--model",
        model_path,
        "--alias",
        alias,
        "--host",
        host,
        "--port",
        str(port if port is not None else spec.endpoint.port),
        "--n-gpu-layers",
        str(shape.n_gpu_layers),
        "--ctx-size",
        str(shape.context_size),
        "--parallel",
        str(shape.parallel_slots),
        "--metrics",
        *TUNING_FLAGS,
    ]
    if shape.tensor_split is not None:
        args += ["--split-mode", "layer", "--tensor-split", shape.tensor_split]
    if api_key_file is not None:
        args += ["--api-key-file", api_key_file]
    return args + extra
