"""A deleted service's DCGM monitor is swept, and a sweep the monitor cache cannot answer yet is retried.

The DCGM monitor lives in another namespace, out of garbage collection's reach; the reconciler's deletion path is
the only thing that removes it, so "not known yet" must bring the key back instead of ending the story.
"""

from __future__ import annotations

from typing import Any

from controller.config import ControllerConfig
from controller.reconcilers.inferenceservice.reconciler import (
    MONITOR_CACHE_RETRY_SECONDS,
    InferenceServiceReconciler,
)
from controller.runtime.request import Request, Result
from controller.runtime.store import Store


class SweepingChildren:
    """Records the sweeps asked for and answers as a monitor cache that is (or is not) filled."""

    def __init__(self, *, cache_filled: bool) -> None:
        self.cache_filled = cache_filled
        self.sweeps: list[tuple[str, str]] = []

    async def sweep_dcgm(self, *, namespace: str, name: str, **_: Any) -> bool:
        self.sweeps.append((namespace, name))
        return self.cache_filled


def reconciler(children: SweepingChildren) -> InferenceServiceReconciler:
    return InferenceServiceReconciler(
        services=Store(),
        models=Store(),
        pods=Store(),
        nodes=Store(),
        writes=children,  # type: ignore[arg-type]
        config=ControllerConfig(),
    )


async def test_a_gone_service_sweeps_its_dcgm_monitor_and_is_done() -> None:
    children = SweepingChildren(cache_filled=True)
    result = await reconciler(children).reconcile(Request(namespace="ns", name="chat"))
    assert children.sweeps == [("ns", "chat")]
    assert result == Result()


async def test_a_sweep_before_the_monitor_cache_is_filled_comes_back() -> None:
    children = SweepingChildren(cache_filled=False)
    result = await reconciler(children).reconcile(Request(namespace="ns", name="chat"))
    assert result == Result(requeue_after=MONITOR_CACHE_RETRY_SECONDS)
