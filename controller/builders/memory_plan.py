"""The memory a llama-server process will need, planned from `status.gguf` before anything is scheduled.

Four terms, in bytes, as llama-server (b11434) allocates them:

- **weights**: the tensor bytes of the file (exact when the fetcher read its tensor table), else parameters x the
  average bits per weight of the file type (`weight_bits`).
- **KV cache**: cells for the context and slots x per-layer key/value widths x cache type (`kv_cache`).
- **compute**: the graph buffers for one physical batch plus the output buffer (`compute_buffers`).
- **overhead**: what the server's buffers do not show: the GPU runtime's context and libraries and their memory
  pools on each GPU, the process itself and its tokenizer on the host. A stated constant per device
  (`GPU_OVERHEAD_BYTES`, `HOST_OVERHEAD_BYTES`), not a measurement.

With GPUs, `--split-mode layer --tensor-split 1,1,...` hands out the repeating layers and the output layer in
equal runs: of the `layers + 1` units, GPU `i` takes units `u` with `u x gpus // (layers + 1) == i`, so the last
GPU also gets the output projection. The token embedding always stays in host memory (llama.cpp keeps the input
layer on the CPU). Each layer's KV cache lives on the GPU that holds the layer.
"""

from __future__ import annotations

import attrs

from api.v1alpha1.gguf import GGUFInfo
from controller.builders.compute_buffers import ModelWidths, device_compute_bytes, output_buffer_bytes
from controller.builders.kv_cache import AttentionShape, cache_layout, layer_kv_bytes
from controller.builders.server_memory_args import ServerMemoryOptions
from controller.builders.weight_bits import bits_per_weight

MIB = 1 << 20
GIB = 1 << 30

#: Per GPU: CUDA/ROCm context, cuBLAS/hipBLAS handles and workspaces, and the backend's scratch pools, none of
#: which appear in llama-server's buffer lines. Measured contexts are 300-500 MiB on current drivers.
GPU_OVERHEAD_BYTES = 640 * MIB
#: Host process beyond its buffers: the binary and its libraries, the tokenizer, the HTTP server, slot state.
HOST_OVERHEAD_BYTES = 256 * MIB
#: Copies of each GPU's graph inputs the scheduler keeps for pipeline parallelism (`GGML_SCHED_MAX_COPIES`),
#: which llama.cpp turns on when layers are split over more than one GPU.
PIPELINE_COPIES = 4


class PlanUnavailable(ValueError):
    """The GGUF facts lack what a plan needs (files read before the fetcher recorded them, or odd metadata)."""


@attrs.frozen(kw_only=True)
class DeviceShare:
    """What one device holds; `layers` counts repeating layers (the output layer is `holds_output`)."""

    weights_bytes: int
    kv_bytes: int
    compute_bytes: int
    overhead_bytes: int
    layers: int = 0
    holds_output: bool = False

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_bytes + self.compute_bytes + self.overhead_bytes


@attrs.frozen(kw_only=True)
class MemoryPlan:
    gpu_count: int
    #: The context llama-server ends up with after padding, and its slots.
    context_size: int
    parallel_slots: int
    #: Whether weights come from the file's tensor table ("tensors") or parameters x bits per weight ("parameters").
    weights_source: str
    #: Host memory (all of it when gpu_count is 0).
    host: DeviceShare
    #: One share per GPU, in device order; empty on CPU.
    gpus: tuple[DeviceShare, ...]

    def _sum(self, field: str) -> int:
        return sum(getattr(share, field) for share in (self.host, *self.gpus))

    @property
    def weights_bytes(self) -> int:
        return self._sum("weights_bytes")

    @property
    def kv_bytes(self) -> int:
        return self._sum("kv_bytes")

    @property
    def compute_bytes(self) -> int:
        return self._sum("compute_bytes")

    @property
    def overhead_bytes(self) -> int:
        return self._sum("overhead_bytes")

    @property
    def total_bytes(self) -> int:
        return self._sum("total_bytes")

    @property
    def largest_gpu_share_bytes(self) -> int:
        return max((share.total_bytes for share in self.gpus), default=0)


def memory_plan(
    gguf: GGUFInfo,
    *,
    context_size: int,
    parallel_slots: int,
    gpu_count: int,
    options: ServerMemoryOptions | None = None,
) -> MemoryPlan:
    """Plan the memory of one server; raises PlanUnavailable when `gguf` lacks the model's shape.

    `--ctx-size`, `--parallel` and `--n-gpu-layers` in `options` (from extraArgs) win over the arguments, as they
    do on llama-server's command line.
    """
    options = options or ServerMemoryOptions()
    context_size = options.context_size or context_size
    parallel_slots = options.parallel or parallel_slots
    if context_size < 1 or parallel_slots < 1 or gpu_count < 0:
        raise ValueError(
            f"a plan needs a positive context size and slot count and no negative GPU count, "
            f"not ctx {context_size}, slots {parallel_slots}, gpus {gpu_count}"
        )
    attention, widths = model_shape(gguf)
    layout = cache_layout(
        context_size=context_size,
        slots=parallel_slots,
        sliding_window=attention.sliding_window,
        options=options,
    )
    kv_per_layer = layer_kv_bytes(attention, layout, options)
    weights = _weights(gguf, widths)
    layers = attention.layers
    output_rows = options.output_rows(parallel_slots)
    output_buffer = output_buffer_bytes(widths, output_rows=output_rows)
    # llama.cpp pipelines layers split over several GPUs, unless the KV cache stays in host memory.
    pipelined = gpu_count > 1 and options.kv_offload

    def compute(*, device_layers: list[int], holds_output: bool, host: bool) -> int:
        return device_compute_bytes(
            widths,
            attention=attention,
            layout=layout,
            options=options,
            layers=device_layers,
            holds_output=holds_output,
            holds_input=host,
            pipeline_copies=PIPELINE_COPIES if pipelined else 1,
            output_rows=output_rows,
        )

    host_units, gpu_units = _units_per_device(layers=layers, gpus=gpu_count, offloaded=options.n_gpu_layers)
    gpus: list[DeviceShare] = []
    for units in gpu_units:
        holds_output = layers in units
        repeating = [unit for unit in units if unit < layers]
        gpus.append(
            DeviceShare(
                weights_bytes=weights.layers_bytes(repeating) + (weights.output_share if holds_output else 0),
                kv_bytes=sum(kv_per_layer[layer] for layer in repeating) if options.kv_offload else 0,
                compute_bytes=compute(device_layers=repeating, holds_output=holds_output, host=False),
                overhead_bytes=GPU_OVERHEAD_BYTES,
                layers=len(repeating),
                holds_output=holds_output,
            )
        )
    host_output = layers in host_units
    host_layers = [unit for unit in host_units if unit < layers]
    host = DeviceShare(
        weights_bytes=weights.token_embedding
        + weights.layers_bytes(host_layers)
        + (weights.host_output_share if host_output else 0),
        kv_bytes=sum(
            kv_per_layer[layer] for layer in (range(layers) if not options.kv_offload else host_layers)
        ),
        compute_bytes=compute(device_layers=host_layers, holds_output=host_output, host=True) + output_buffer,
        overhead_bytes=HOST_OVERHEAD_BYTES,
        layers=len(host_layers),
        holds_output=host_output,
    )
    return MemoryPlan(
        gpu_count=gpu_count,
        context_size=layout.context_size,
        parallel_slots=parallel_slots,
        weights_source=weights.source,
        host=host,
        gpus=tuple(gpus),
    )


def _units_per_device(*, layers: int, gpus: int, offloaded: int | None) -> tuple[list[int], list[list[int]]]:
    """Layer indices (the output layer as index `layers`) kept in host memory, and those of each GPU.

    As llama.cpp places them with `--n-gpu-layers N --split-mode layer --tensor-split 1,1,...`: the last `N` of
    the `layers + 1` units are offloaded (all of them by default), in equal runs over the GPUs.
    """
    units = layers + 1
    on_gpus = 0 if gpus == 0 else min(units if offloaded is None else offloaded, units)
    first = units - on_gpus
    per_gpu: list[list[int]] = [[] for _ in range(gpus)]
    for unit in range(first, units):
        per_gpu[(unit - first) * gpus // on_gpus].append(unit)
    return list(range(first)), per_gpu


@attrs.frozen(kw_only=True)
class _Weights:
    total: int
    token_embedding: int
    output: int
    #: Bytes of the repeating layers together; the status does not break them down, so layers share equally.
    layers: int
    layer_count: int
    #: Whether the output projection is a tensor of its own (else the embedding serves as output too).
    output_untied: bool
    source: str

    def layers_bytes(self, layers: list[int]) -> int:
        return self.layers // self.layer_count * len(layers)

    @property
    def output_share(self) -> int:
        """The output projection, plus the bytes the equal division of the layers leaves over (so shares add up)."""
        return self.output + self.layers % self.layer_count

    @property
    def host_output_share(self) -> int:
        """In host memory a tied output projection is the mapped embedding itself, not a copy."""
        untied = self.output if self.output_untied else 0
        return untied + self.layers % self.layer_count


def _weights(gguf: GGUFInfo, widths: ModelWidths) -> _Weights:
    layers = gguf.block_count or 1
    if gguf.weight_bytes:
        total = gguf.weight_bytes
        embedding = gguf.token_embedding_bytes or 0
        # A tied output projection is the embedding table again, copied to the device holding the output layer.
        output = gguf.output_bytes or embedding
        source = "tensors"
    else:
        if not gguf.parameter_count:
            raise PlanUnavailable(
                "the Model's status.gguf has neither the file's tensor sizes nor its parameter count: "
                "let the Model download again so the fetcher records them"
            )
        bits = bits_per_weight(gguf.quantization)
        total = int(gguf.parameter_count * bits / 8)
        embedding = int(widths.vocab * widths.embedding * bits / 8)
        output = embedding
        source = "parameters"
    # Without the tensor table, assume an output projection of its own: the parameter count then includes it.
    untied = bool(gguf.output_bytes) or not gguf.weight_bytes
    return _Weights(
        total=total,
        token_embedding=embedding,
        output=output,
        layers=max(total - embedding - (output if untied else 0), 0),
        layer_count=layers,
        output_untied=untied,
        source=source,
    )


def model_shape(gguf: GGUFInfo) -> tuple[AttentionShape, ModelWidths]:
    missing = [
        name
        for name, value in (
            ("blockCount", gguf.block_count),
            ("embeddingLength", gguf.embedding_length),
            ("headCount", gguf.head_count),
        )
        if not value
    ]
    if missing:
        raise PlanUnavailable(
            f"the Model's status.gguf lacks {', '.join(missing)}: the file's header does not record the "
            "model's shape, so its memory cannot be planned; set gpuCount and resources explicitly"
        )
    assert gguf.block_count
    assert gguf.embedding_length
    assert gguf.head_count
    head_width = gguf.embedding_length // gguf.head_count
    attention = AttentionShape(
        layers=gguf.block_count,
        head_count_kv=gguf.head_count_kv or gguf.head_count,
        key_length=gguf.key_length or head_width,
        value_length=gguf.value_length or head_width,
        sliding_window=gguf.sliding_window if gguf.sliding_window_layers else None,
        sliding_layers=frozenset(gguf.sliding_window_layers or ()),
    )
    widths = ModelWidths(
        embedding=gguf.embedding_length,
        head_count=gguf.head_count,
        vocab=gguf.vocab_size or 32_000,
        feed_forward=gguf.feed_forward_length or 4 * gguf.embedding_length,
        expert_feed_forward=gguf.expert_feed_forward_length,
        expert_count=gguf.expert_count,
        expert_used_count=gguf.expert_used_count,
    )
    return attention, widths
