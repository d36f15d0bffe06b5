"""What llama-server actually allocated, read from the lines it logs while loading a model.

llama.cpp (b11434) logs every buffer it allocates, per device ("buffer type"), in MiB with two decimals:

    load_tensors:   CPU_Mapped model buffer size =    97.34 MiB
    llama_context:        CPU  output buffer size =     0.38 MiB
    llama_kv_cache:        CPU KV buffer size =    45.00 MiB
    sched_reserve:        CPU compute buffer size =   104.50 MiB

The same device can have several model buffers (mapped and repacked weights) and several KV buffers (the full and
the sliding-window caches of one model), so those add up. Compute buffers are reserved again when the graph
changes, and the latest reservation is the one in force, so a compute line replaces an earlier one for its
device. A model buffer line that follows other buffer lines starts a new load (llama-server reloading, or a
probe load before the real one) and discards what was read before.

Pure and line-based so that both the host agent (reading its own llama-server's output) and the controller
(reading a serving pod's log) record the same figures next to the plan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from api.v1alpha1.memory import AllocatedMemory

MIB = 1 << 20

#: The kinds of buffer the plan compares with: weights, KV cache, compute graph, and logits/embeddings output.
KINDS = ("model", "KV", "compute", "output")

_BUFFER_LINE = re.compile(
    r"(?P<function>\w+):\s+(?P<device>\S+)\s+(?P<kind>model|KV|compute|output)\s+buffer size\s*=\s*"
    r"(?P<mib>\d+(?:\.\d+)?)\s*MiB"
)


@attrs.frozen(kw_only=True)
class BufferAllocation:
    kind: str
    #: llama.cpp's buffer type name: CPU, CPU_Mapped, CPU_REPACK, CUDA0, CUDA_Host, ROCm1, Metal, ...
    device: str
    bytes: int


@attrs.frozen(kw_only=True)
class ServerAllocation:
    buffers: tuple[BufferAllocation, ...]

    def total(self, kind: str | None = None) -> int:
        return sum(b.bytes for b in self.buffers if kind is None or b.kind == kind)

    @property
    def weights_bytes(self) -> int:
        return self.total("model")

    @property
    def kv_bytes(self) -> int:
        return self.total("KV")

    @property
    def compute_bytes(self) -> int:
        """Compute graph plus output buffers: the part of the plan that scales with the batch, not the model."""
        return self.total("compute") + self.total("output")

    def devices(self) -> list[str]:
        return sorted({b.device for b in self.buffers})


def parse_buffer_line(line: str) -> BufferAllocation | None:
    match = _BUFFER_LINE.search(line)
    if match is None:
        return None
    # MiB with two decimals: the byte count is exact to about 5 KiB, far below anything the plan resolves.
    return BufferAllocation(
        kind=match["kind"], device=match["device"], bytes=round(float(match["mib"]) * MIB)
    )


def parse_allocation_log(lines: Iterable[str]) -> ServerAllocation | None:
    """The buffers of the latest model load in these log lines, or None when they show no load."""
    summed: dict[tuple[str, str], int] = {}
    latest: dict[tuple[str, str], int] = {}
    previous_kind: str | None = None
    for line in lines:
        buffer = parse_buffer_line(line)
        if buffer is None:
            continue
        key = (buffer.kind, buffer.device)
        if buffer.kind == "model" and previous_kind not in (None, "model"):
            summed.clear()
            latest.clear()
        if buffer.kind in ("model", "KV"):
            summed[key] = summed.get(key, 0) + buffer.bytes
        else:
            latest[key] = buffer.bytes
        previous_kind = buffer.kind
    found = {**summed, **latest}
    if not found:
        return None
    return ServerAllocation(
        buffers=tuple(
            BufferAllocation(kind=kind, device=device, bytes=size)
            for (kind, device), size in sorted(
                found.items(), key=lambda item: (KINDS.index(item[0][0]), item[0][1])
            )
        )
    )


def allocated_memory(allocation: ServerAllocation) -> AllocatedMemory:
    """`status.memory.allocated`: the buffers as the plan's terms name them, next to `status.memory.planned`."""
    return AllocatedMemory(
        weights_bytes=allocation.weights_bytes,
        kv_bytes=allocation.kv_bytes,
        compute_bytes=allocation.compute_bytes,
        total_bytes=allocation.total(),
        devices=allocation.devices() or None,
    )
