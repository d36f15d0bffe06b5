from __future__ import annotations

from typing import Any

from api.v1alpha1.gguf import GGUFInfo
from controller.builders.memory_plan import MIB
from controller.builders.service_fit import FitDecision, cpu_memory_request, planned_memory, service_fit
from tests.unit.builders.conftest import isvc_from
from tests.unit.builders.model_shapes import LLAMA_8B, LLAMA_70B, LLAMA_405B
from tests.unit.builders.test_node_candidates import gpu_node, node

POOL_24 = [gpu_node("small", memory_mib=24 * 1024, pool="small")]
POOL_80 = [gpu_node("big", memory_mib=80 * 1024, pool="big")]


def fit(gguf: GGUFInfo | None, nodes: list[dict[str, Any]], **spec: Any) -> FitDecision:
    return service_fit(
        spec=isvc_from({"accelerator": {"type": "nvidia"}, "contextSize": 16_384, **spec}).spec,
        model=None,
        gguf=gguf,
        nodes=nodes,
    )


def test_a_70b_gets_three_or_four_gpus_on_the_24_gib_pool() -> None:
    decision = fit(LLAMA_70B, POOL_24)

    assert decision.chosen
    assert decision.deploy
    assert decision.gpu_count in (3, 4)
    assert decision.condition is not None
    assert decision.condition.status == "True"
    assert decision.condition.message.startswith(f"gpuCount {decision.gpu_count} chosen")


def test_a_70b_gets_one_gpu_on_the_80_gib_pool() -> None:
    assert fit(LLAMA_70B, POOL_80).gpu_count == 1


def test_the_node_selector_decides_which_pool_the_plan_is_made_for() -> None:
    assert fit(LLAMA_70B, POOL_24 + POOL_80, nodeSelector={"pool": "small"}).gpu_count in (3, 4)
    assert fit(LLAMA_70B, POOL_24 + POOL_80).gpu_count == 1


def test_an_8b_gets_one_gpu_on_the_24_gib_pool() -> None:
    decision = fit(LLAMA_8B, POOL_24)

    assert (decision.gpu_count, decision.deploy) == (1, True)


def test_a_model_too_large_for_every_node_is_not_deployed_and_says_what_it_needs() -> None:
    decision = fit(LLAMA_405B, POOL_24)

    assert not decision.deploy
    assert decision.condition is not None
    assert (decision.condition.status, decision.condition.reason) == ("False", "DoesNotFit")
    assert "weights" in decision.condition.message
    assert "KV (ctx 16384)" in decision.condition.message
    assert "the largest GPU here has 24.0 GiB" in decision.condition.message


def test_fit_policy_warn_deploys_what_does_not_fit_and_says_so() -> None:
    decision = fit(LLAMA_405B, POOL_24, fitPolicy="Warn")

    assert decision.deploy
    assert decision.condition is not None
    assert decision.condition.status == "False"
    assert "deployed anyway" in decision.condition.message


def test_a_written_gpu_count_that_does_not_fit_names_the_count_that_would() -> None:
    decision = fit(LLAMA_70B, POOL_24, accelerator={"type": "nvidia", "gpuCount": 1})

    assert (decision.gpu_count, decision.chosen, decision.deploy) == (1, False, False)
    assert decision.condition is not None
    assert (
        "set gpuCount >= 3" in decision.condition.message or "set gpuCount >= 4" in decision.condition.message
    )
    assert "or lower contextSize" in decision.condition.message


def test_a_written_gpu_count_that_fits_is_kept() -> None:
    decision = fit(LLAMA_8B, POOL_80, accelerator={"type": "nvidia", "gpuCount": 2})

    assert (decision.gpu_count, decision.chosen, decision.deploy) == (2, False, True)


def test_nodes_with_too_few_gpus_for_the_count_needed_do_not_fit() -> None:
    decision = fit(LLAMA_70B, [gpu_node("pair", memory_mib=24 * 1024, gpus=2)])

    assert not decision.deploy
    assert decision.condition is not None
    assert "no node it may land on has" in decision.condition.message


def test_without_gguf_facts_the_service_deploys_as_before_and_fits_is_unknown() -> None:
    decision = fit(None, POOL_24)

    assert (decision.gpu_count, decision.deploy, decision.plan) == (1, True, None)
    assert decision.condition is not None
    assert (decision.condition.status, decision.condition.reason) == ("Unknown", "PlanUnavailable")


def test_gpu_nodes_that_do_not_say_their_memory_leave_fits_unknown() -> None:
    unlabelled = node("gpu", gpus=8)

    decision = fit(LLAMA_70B, [unlabelled])

    assert (decision.gpu_count, decision.deploy) == (1, True)
    assert decision.condition is not None
    assert decision.condition.reason == "GPUMemoryUnknown"
    assert "--gpu-memory" in decision.condition.message


def cpu_fit(gguf: GGUFInfo, nodes: list[dict[str, Any]], **spec: Any) -> FitDecision:
    return service_fit(spec=isvc_from(spec).spec, model=None, gguf=gguf, nodes=nodes)


def test_a_cpu_service_asks_for_the_planned_host_memory_plus_the_margin() -> None:
    decision = cpu_fit(LLAMA_8B, [node("cpu")])

    assert decision.plan is not None
    assert decision.gpu_count == 0
    assert decision.memory_request == cpu_memory_request(decision.plan)
    request_bytes = int(decision.memory_request.removesuffix("Mi")) * MIB
    assert decision.plan.host.total_bytes * 1.1 <= request_bytes < decision.plan.host.total_bytes * 1.1 + MIB
    assert decision.condition is not None
    assert decision.condition.status == "True"


def test_spec_resources_memory_wins_over_the_plan() -> None:
    decision = cpu_fit(LLAMA_8B, [node("cpu")], resources={"memory": "20Gi"})

    assert decision.memory_request == "20Gi"


def test_a_cpu_service_larger_than_every_node_is_not_deployed() -> None:
    decision = cpu_fit(LLAMA_405B, [node("cpu")])

    assert not decision.deploy
    assert decision.condition is not None
    assert decision.condition.reason == "DoesNotFit"


def test_host_served_services_get_a_plan_but_no_fits_condition() -> None:
    decision = service_fit(
        spec=isvc_from({"accelerator": {"type": "metal"}}).spec, model=None, gguf=LLAMA_8B, nodes=[]
    )

    assert decision.plan is not None
    assert decision.condition is None
    assert decision.deploy


def test_the_planned_status_adds_up_per_gpu() -> None:
    decision = fit(LLAMA_70B, POOL_24)
    assert decision.plan is not None

    planned = planned_memory(decision.plan)

    assert planned.per_gpu_bytes is not None
    assert len(planned.per_gpu_bytes) == decision.gpu_count
    assert sum(planned.per_gpu_bytes) + planned.host_bytes == planned.total_bytes
    assert planned.weights_source == "parameters"
