"""Whether a service fits before anything is scheduled: the GPU count in force, the `Fits` condition, and the
memory request of CPU pods, all from one memory plan (controller.builders.memory_plan).

- GPU services (nvidia, amd) whose gpuCount neither the service nor the Model sets get the smallest count whose
  per-GPU share fits a GPU of some node they may land on that has that many GPUs (controller.builders.gpu_fit,
  controller.builders.node_candidates). A written gpuCount is kept and checked against the largest GPU on offer.
- CPU services are checked against the largest allocatable host memory on offer, and their pods get the plan's
  host memory plus `CPU_MEMORY_MARGIN` as memory request and limit unless `spec.resources.memory` says otherwise.
- A plan that fits nothing on offer is `Fits=False` with what it needs and the fix; the service is not deployed
  unless `spec.fitPolicy` is Warn. A plan that cannot be made (no GGUF facts yet) or nodes that do not say how
  much memory their GPUs have leave `Fits=Unknown` and change nothing: the service deploys as it did before plans.
- metal/host services are served by the host agent outside the cluster: their plan is reported, not checked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from api.objects import ObjectView
from api.v1alpha1.gguf import GGUFInfo
from api.v1alpha1.inferenceservice import HOST_ACCELERATORS, InferenceServiceSpec
from api.v1alpha1.memory import PlannedMemory
from api.v1alpha1.model import ModelSpec
from api.v1alpha1.well_known import FITS
from controller.builders.conditions import DesiredCondition
from controller.builders.deployment import GPU_RESOURCES, gpu_toleration, merged_tolerations
from controller.builders.gpu_fit import (
    MAX_GPUS,
    GpuFit,
    fit_message,
    fits,
    gib,
    plan_summary,
    usable_gpu_bytes,
)
from controller.builders.llama_args import explicit_gpu_count, gpu_count, serving_shape
from controller.builders.memory_plan import MIB, MemoryPlan, PlanUnavailable, memory_plan
from controller.builders.node_candidates import CandidateNode, candidate_nodes
from controller.builders.server_memory_args import server_memory_options

#: Head room of a CPU pod's memory request over the plan: the plan is within 10 % of what llama-server
#: allocates (tests/integration/inference/test_memory_plan_vs_llama_server.py), and a limit below the real
#: need gets the pod OOM-killed.
CPU_MEMORY_MARGIN = 0.10

FITS_REASON = "Fits"
DOES_NOT_FIT = "DoesNotFit"
PLAN_UNAVAILABLE = "PlanUnavailable"
GPU_MEMORY_UNKNOWN = "GPUMemoryUnknown"
NO_NODES = "NoNodes"


@attrs.frozen(kw_only=True)
class FitDecision:
    #: GPUs per pod in force (the written count, the chosen one, or the default without a plan).
    gpu_count: int
    #: Whether the plan chose `gpu_count` (nobody wrote one).
    chosen: bool
    plan: MemoryPlan | None
    #: The `Fits` condition; None for services the host agent serves.
    condition: DesiredCondition | None
    #: False when the plan fits nothing on offer and the policy is Enforce: no Deployment.
    deploy: bool
    #: Memory request and limit of the server container (a quantity), None to leave it unset.
    memory_request: str | None


def service_fit(
    *,
    spec: InferenceServiceSpec,
    model: ModelSpec | None,
    gguf: GGUFInfo | None,
    nodes: Iterable[ObjectView],
    gpu_memory_overrides: Mapping[str, int] | None = None,
) -> FitDecision:
    """The fit of one service on the cluster whose Nodes are `nodes` (a cache's list)."""
    accelerator = spec.accelerator.type
    user_memory = spec.resources.memory if spec.resources is not None else None
    written = explicit_gpu_count(spec, model)
    default_count = gpu_count(spec, model)
    options = server_memory_options(spec.extra_args)

    def plan_for(count: int) -> MemoryPlan:
        assert gguf is not None
        shape = serving_shape(spec, model, gguf, chosen_gpus=count)
        return memory_plan(
            gguf,
            context_size=shape.context_size,
            parallel_slots=shape.parallel_slots,
            gpu_count=count,
            options=options,
        )

    def unplanned(condition: DesiredCondition | None) -> FitDecision:
        return FitDecision(
            gpu_count=default_count,
            chosen=False,
            plan=None,
            condition=condition,
            deploy=True,
            memory_request=user_memory,
        )

    try:
        if gguf is None:
            raise PlanUnavailable(
                "the Model's status has no GGUF facts: its file was cached before they were recorded"
            )
        plan_for(default_count)
    except PlanUnavailable as err:
        if accelerator in HOST_ACCELERATORS:
            return unplanned(None)
        return unplanned(_condition("Unknown", PLAN_UNAVAILABLE, f"{err}; deployed without a memory check"))

    if accelerator in HOST_ACCELERATORS:
        return FitDecision(
            gpu_count=default_count,
            chosen=False,
            plan=plan_for(default_count),
            condition=None,
            deploy=True,
            memory_request=user_memory,
        )
    enforce = spec.fit_policy != "Warn"
    resource = GPU_RESOURCES.get(accelerator)
    candidates = candidate_nodes(
        nodes,
        node_selector=spec.node_selector,
        tolerations=merged_tolerations(gpu_toleration(accelerator), spec.tolerations),
        gpu_resource=resource if default_count > 0 else None,
        gpu_memory_overrides=gpu_memory_overrides,
    )
    if default_count == 0:
        return _cpu_fit(plan_for(0), candidates, user_memory=user_memory, enforce=enforce)
    return _gpu_fit(plan_for, candidates, written=written, default_count=default_count, enforce=enforce)


def _cpu_fit(
    plan: MemoryPlan, candidates: Sequence[CandidateNode], *, user_memory: str | None, enforce: bool
) -> FitDecision:
    request = user_memory or cpu_memory_request(plan)
    needs = f"needs {plan_summary(plan)} in host memory"
    sizes = [node.memory_bytes for node in candidates if node.memory_bytes]
    if not sizes:
        condition = _condition(
            "Unknown", NO_NODES, f"{needs}; no node this service may land on reports its memory"
        )
        fitting = True
    else:
        largest = max(sizes)
        fitting = _cpu_need(plan) <= largest
        offer = f"the largest node here has {gib(largest)} allocatable"
        if fitting:
            condition = _condition("True", FITS_REASON, f"fits: {needs} (memory request {request}); {offer}")
        else:
            condition = _condition(
                "False",
                DOES_NOT_FIT,
                f"{needs}, {gib(_cpu_need(plan))} with margin; {offer}: lower contextSize or parallelSlots, "
                "choose a smaller quantization, or run on a GPU" + _deployed_anyway(enforce),
            )
    return FitDecision(
        gpu_count=0,
        chosen=False,
        plan=plan,
        condition=condition,
        deploy=fitting or not enforce,
        memory_request=request,
    )


def _gpu_fit(
    plan_for: Callable[[int], MemoryPlan],
    candidates: Sequence[CandidateNode],
    *,
    written: int | None,
    default_count: int,
    enforce: bool,
) -> FitDecision:
    sized = [node for node in candidates if node.gpu_memory is not None]
    if not sized:
        plan = plan_for(default_count)
        why = (
            "no GPU node this service may land on (nodeSelector, tolerations) says how much memory its GPUs "
            "have: label nodes with nvidia.com/gpu.memory (GPU feature discovery) or start the controller with "
            "--gpu-memory PRODUCT=QUANTITY"
            if candidates
            else "no node this service may land on offers its accelerator's GPUs"
        )
        reason = GPU_MEMORY_UNKNOWN if candidates else NO_NODES
        return FitDecision(
            gpu_count=default_count,
            chosen=False,
            plan=plan,
            condition=_condition("Unknown", reason, f"needs {plan_summary(plan)}; {why}"),
            deploy=True,
            memory_request=None,
        )
    largest = max(node.gpu_memory.bytes for node in sized if node.gpu_memory is not None)
    needed = _smallest_count_on_offer(plan_for, sized)
    if written is not None:
        plan = plan_for(written)
        fitting = fits(plan, largest)
        message = fit_message(plan, gpu_memory_bytes=largest, needed=needed) if fitting or needed else None
        if message is None:
            message = _beyond_offer(plan_for, plan, largest)
        return FitDecision(
            gpu_count=written,
            chosen=False,
            plan=plan,
            condition=_condition(
                "True" if fitting else "False",
                FITS_REASON if fitting else DOES_NOT_FIT,
                message if fitting else message + _deployed_anyway(enforce),
            ),
            deploy=fitting or not enforce,
            memory_request=None,
        )
    if needed is not None:
        count, plan = needed.gpu_count, needed.plan
        gpu_memory = max(
            node.gpu_memory.bytes
            for node in sized
            if node.gpu_memory is not None and node.gpus >= count and fits(plan, node.gpu_memory.bytes)
        )
        return FitDecision(
            gpu_count=count,
            chosen=True,
            plan=plan,
            condition=_condition(
                "True",
                FITS_REASON,
                f"gpuCount {count} chosen, the fewest that fit: "
                + fit_message(plan, gpu_memory_bytes=gpu_memory, needed=None).removeprefix("fits: "),
            ),
            deploy=True,
            memory_request=None,
        )
    plan = plan_for(default_count)
    return FitDecision(
        gpu_count=default_count,
        chosen=False,
        plan=plan,
        condition=_condition(
            "False", DOES_NOT_FIT, _beyond_offer(plan_for, plan, largest) + _deployed_anyway(enforce)
        ),
        deploy=not enforce,
        memory_request=None,
    )


def _smallest_count_on_offer(
    plan_for: Callable[[int], MemoryPlan], nodes: Sequence[CandidateNode]
) -> GpuFit | None:
    """The fewest GPUs whose per-GPU share fits the GPUs of a node that has at least that many, with its plan."""
    most = min(MAX_GPUS, max(node.gpus for node in nodes))
    for count in range(1, most + 1):
        plan = plan_for(count)
        for node in nodes:
            if node.gpu_memory is not None and node.gpus >= count and fits(plan, node.gpu_memory.bytes):
                return GpuFit(gpu_count=count, plan=plan)
    return None


def _beyond_offer(plan_for: Callable[[int], MemoryPlan], plan: MemoryPlan, largest: int) -> str:
    """Why nothing on offer holds the plan: too few GPUs per node, or GPUs too small at any count."""
    for count in range(1, MAX_GPUS + 1):
        candidate = plan_for(count)
        if fits(candidate, largest):
            return (
                f"needs {plan_summary(candidate)}; {gib(candidate.largest_gpu_share_bytes)} per GPU on {count}; "
                f"the largest GPU here has {gib(largest)} ({gib(usable_gpu_bytes(largest))} usable), and no node "
                f"it may land on has {count} of them: add such nodes, or lower contextSize or parallelSlots"
            )
    return fit_message(plan, gpu_memory_bytes=largest, needed=None)


def _deployed_anyway(enforce: bool) -> str:
    return "" if enforce else " (deployed anyway: spec.fitPolicy is Warn)"


def _cpu_need(plan: MemoryPlan) -> int:
    return math.ceil(plan.host.total_bytes * (1 + CPU_MEMORY_MARGIN))


def cpu_memory_request(plan: MemoryPlan) -> str:
    """The plan's host memory plus the margin, in whole MiB (`1234Mi`)."""
    return f"{math.ceil(_cpu_need(plan) / MIB)}Mi"


def planned_memory(plan: MemoryPlan) -> PlannedMemory:
    """`status.memory.planned` for this plan."""
    return PlannedMemory(
        gpu_count=plan.gpu_count,
        context_size=plan.context_size,
        parallel_slots=plan.parallel_slots,
        weights_source=plan.weights_source,
        weights_bytes=plan.weights_bytes,
        kv_bytes=plan.kv_bytes,
        compute_bytes=plan.compute_bytes,
        overhead_bytes=plan.overhead_bytes,
        total_bytes=plan.total_bytes,
        host_bytes=plan.host.total_bytes,
        per_gpu_bytes=[share.total_bytes for share in plan.gpus] or None,
        summary=plan_summary(plan),
    )


def _condition(status: str, reason: str, message: str) -> DesiredCondition:
    return DesiredCondition(type=FITS, status=status, reason=reason, message=message)
