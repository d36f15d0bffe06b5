"""Whether a memory plan fits the GPUs on offer, how many GPUs it takes, and the sentence that says so.

A plan fits `n` GPUs of a given size when its largest per-GPU share stays within that size less a safety margin
(`SAFETY_MARGIN`, 5 % of the GPU): room for what the plan cannot see, such as allocator fragmentation, a driver
that reserves more than usual, or a graph llama.cpp reserves again with other sizes. The smallest fitting count
from 1 to `MAX_GPUS` (the API's limit for `gpuCount`) is the one chosen.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from controller.builders.memory_plan import GIB, MemoryPlan

SAFETY_MARGIN = 0.05
MAX_GPUS = 8


@attrs.frozen(kw_only=True)
class GpuFit:
    gpu_count: int
    plan: MemoryPlan


def usable_gpu_bytes(gpu_memory_bytes: int) -> int:
    return int(gpu_memory_bytes * (1 - SAFETY_MARGIN))


def fits(plan: MemoryPlan, gpu_memory_bytes: int) -> bool:
    return plan.largest_gpu_share_bytes <= usable_gpu_bytes(gpu_memory_bytes)


def smallest_fitting_gpu_count(
    plan_for: Callable[[int], MemoryPlan], gpu_memory_bytes: int, *, max_gpus: int = MAX_GPUS
) -> GpuFit | None:
    """The fewest GPUs (1..max_gpus) whose largest share fits `gpu_memory_bytes`, or None when none does.

    `plan_for(n)` plans the server on `n` GPUs; per-GPU shares shrink as GPUs are added (weights and KV spread
    out, the fixed overhead stays), so the first fit is the smallest.
    """
    for count in range(1, max_gpus + 1):
        plan = plan_for(count)
        if fits(plan, gpu_memory_bytes):
            return GpuFit(gpu_count=count, plan=plan)
    return None


def gib(value: int) -> str:
    return f"{value / GIB:.1f} GiB"


def plan_summary(plan: MemoryPlan) -> str:
    """`42.1 GiB weights + 5.0 GiB KV (ctx 16384) + 1.2 GiB compute and overhead`."""
    return (
        f"{gib(plan.weights_bytes)} weights + {gib(plan.kv_bytes)} KV (ctx {plan.context_size}) + "
        f"{gib(plan.compute_bytes + plan.overhead_bytes)} compute and overhead"
    )


def fit_message(plan: MemoryPlan, *, gpu_memory_bytes: int, needed: GpuFit | None) -> str:
    """The sentence for the `Fits` condition: what the plan needs, what the largest GPU offers, and the fix.

    `plan` is the plan for the GPU count in force; `needed` the smallest count that fits (None: none up to 8).
    """
    usable = usable_gpu_bytes(gpu_memory_bytes)
    offer = f"the largest GPU here has {gib(gpu_memory_bytes)} ({gib(usable)} usable)"
    needs = f"needs {plan_summary(plan)}"
    share = f"{gib(plan.largest_gpu_share_bytes)} per GPU on {plan.gpu_count}"
    if fits(plan, gpu_memory_bytes):
        return f"fits: {needs}; {share}; {offer}"
    if needed is not None:
        return f"{needs}; {share}; {offer}: set gpuCount >= {needed.gpu_count} or lower contextSize"
    return (
        f"{needs}; {offer}, and even {MAX_GPUS} GPUs would not hold it: lower contextSize or parallelSlots, "
        "choose a smaller quantization, or run on GPUs with more memory"
    )
