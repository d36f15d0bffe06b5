from __future__ import annotations

from collections.abc import Callable

from api.v1alpha1.gguf import GGUFInfo
from controller.builders.gpu_fit import SAFETY_MARGIN, fit_message, fits, smallest_fitting_gpu_count
from controller.builders.memory_plan import MemoryPlan, memory_plan
from tests.unit.builders.model_shapes import LLAMA_8B, LLAMA_70B, LLAMA_405B

GIB = 1 << 30


def planner(gguf: GGUFInfo, *, context_size: int = 16_384, slots: int = 4) -> Callable[[int], MemoryPlan]:
    return lambda count: memory_plan(gguf, context_size=context_size, parallel_slots=slots, gpu_count=count)


def test_a_70b_q4_k_m_needs_three_or_four_24_gib_gpus() -> None:
    fit = smallest_fitting_gpu_count(planner(LLAMA_70B), 24 * GIB)

    assert fit is not None
    assert fit.gpu_count in (3, 4)


def test_a_70b_q4_k_m_fits_one_80_gib_gpu() -> None:
    fit = smallest_fitting_gpu_count(planner(LLAMA_70B), 80 * GIB)

    assert fit is not None
    assert fit.gpu_count == 1


def test_an_8b_fits_one_24_gib_gpu() -> None:
    fit = smallest_fitting_gpu_count(planner(LLAMA_8B), 24 * GIB)

    assert fit is not None
    assert fit.gpu_count == 1


def test_no_count_up_to_eight_fits_a_405b_on_24_gib_gpus() -> None:
    assert smallest_fitting_gpu_count(planner(LLAMA_405B), 24 * GIB) is None


def test_the_safety_margin_is_kept_free_on_every_gpu() -> None:
    plan = planner(LLAMA_8B)(1)
    exact = plan.largest_gpu_share_bytes

    assert not fits(plan, exact)
    assert fits(plan, int(exact / (1 - SAFETY_MARGIN)) + 1)


def test_a_longer_context_can_need_more_gpus() -> None:
    short = smallest_fitting_gpu_count(planner(LLAMA_70B, context_size=4096, slots=1), 24 * GIB)
    long = smallest_fitting_gpu_count(planner(LLAMA_70B, context_size=131_072, slots=4), 24 * GIB)

    assert short is not None
    assert long is not None
    assert long.gpu_count > short.gpu_count


def test_the_message_says_what_the_plan_needs_what_the_gpu_has_and_the_fix() -> None:
    plan = planner(LLAMA_70B)(1)
    needed = smallest_fitting_gpu_count(planner(LLAMA_70B), 24 * GIB)

    message = fit_message(plan, gpu_memory_bytes=24 * GIB, needed=needed)

    assert message.startswith("needs 40.2 GiB weights + 5.0 GiB KV (ctx 16384) + ")
    assert "the largest GPU here has 24.0 GiB (22.8 GiB usable)" in message
    assert message.endswith("set gpuCount >= 3 or lower contextSize")


def test_the_message_for_a_model_no_count_fits_names_the_other_fixes() -> None:
    message = fit_message(planner(LLAMA_405B)(8), gpu_memory_bytes=24 * GIB, needed=None)

    assert "even 8 GPUs would not hold it" in message
    assert "lower contextSize" in message


def test_the_message_for_a_fitting_plan_starts_with_fits() -> None:
    message = fit_message(planner(LLAMA_8B)(1), gpu_memory_bytes=24 * GIB, needed=None)

    assert message.startswith("fits: needs 4.6 GiB weights")
