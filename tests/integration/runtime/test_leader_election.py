"""Two candidates, one Lease: exactly one leads, and a standby takes over when the leader dies or leaves."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from controller.kube import KubeClient
from controller.kube.resources import LEASES
from controller.runtime.leaderelection import LeaderElectionConfig, LeaderElector
from tests.integration.runtime.conftest import eventually

pytestmark = pytest.mark.cluster


def config(namespace: str, identity: str, *, release: bool = True) -> LeaderElectionConfig:
    return LeaderElectionConfig(
        namespace=namespace, name="llmkube-test", identity=identity, release_on_cancel=release
    )


async def test_exactly_one_of_two_candidates_leads(
    kube: KubeClient, namespace: str, kubeconfig_path: Path
) -> None:
    async with KubeClient.connect(kubeconfig=kubeconfig_path) as other:
        first = LeaderElector(kube, config(namespace, "a"))
        second = LeaderElector(other, config(namespace, "b"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(first.run)
            tg.start_soon(second.run)
            await eventually(lambda: first.is_leader() or second.is_leader())
            await anyio.sleep(5)  # several renew periods: the standby must stay a standby
            assert [first.is_leader(), second.is_leader()].count(True) == 1
            tg.cancel_scope.cancel()


async def test_standby_takes_over_within_lease_duration_after_leader_dies(
    kube: KubeClient, namespace: str, kubeconfig_path: Path
) -> None:
    async with KubeClient.connect(kubeconfig=kubeconfig_path) as other:
        # A dead leader does not release: model it with release off and an abrupt cancel.
        leader = LeaderElector(kube, config(namespace, "dying", release=False))
        standby = LeaderElector(other, config(namespace, "standby"))
        async with anyio.create_task_group() as tg:
            leader_scope = anyio.CancelScope()
            tg.start_soon(_run_in, leader, leader_scope)
            await eventually(leader.is_leader)
            tg.start_soon(standby.run)
            await anyio.sleep(3)
            assert not standby.is_leader()
            died_at = anyio.current_time()
            leader_scope.cancel()
            await eventually(standby.is_leader, within=30)
            took = anyio.current_time() - died_at
            lease = await kube.get(LEASES, "llmkube-test", namespace=namespace)
            tg.cancel_scope.cancel()
    assert lease["spec"]["holderIdentity"] == "standby"
    assert lease["spec"]["leaseTransitions"] >= 1
    # The standby counts the 15 s lease from when it saw the last renewal, which can be up to one jittered retry
    # period (2 s * 2.2) after the death, and takes over at its first retry after that: at most one more. The
    # last 3 s are for the API calls on a busy machine.
    print(f"failover after leader death: {took:.1f}s")
    assert took <= 15 + 2 * (2 * 2.2) + 3, f"failover took {took:.1f}s"


async def test_released_lease_is_taken_over_at_once(
    kube: KubeClient, namespace: str, kubeconfig_path: Path
) -> None:
    async with KubeClient.connect(kubeconfig=kubeconfig_path) as other:
        leader = LeaderElector(kube, config(namespace, "leaving"))
        standby = LeaderElector(other, config(namespace, "standby"))
        async with anyio.create_task_group() as tg:
            leader_scope = anyio.CancelScope()
            tg.start_soon(_run_in, leader, leader_scope)
            await eventually(leader.is_leader)
            tg.start_soon(standby.run)
            await anyio.sleep(1)
            leader_scope.cancel()
            took = await eventually(standby.is_leader, within=10)
            tg.cancel_scope.cancel()
    # At the standby's next retry (2 s * 2.2 at most), plus the API calls on a busy machine: far below 15 s.
    assert took < 2 * 2.2 + 3, f"takeover after release took {took:.1f}s"


async def _run_in(elector: LeaderElector, scope: anyio.CancelScope) -> None:
    with scope:
        await elector.run()
