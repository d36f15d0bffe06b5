"""A manager process for the signal test: a real controller whose reconciles take a while, logging JSON lines.

Each reconcile of a ConfigMap labelled `LABEL` in the namespace logs "reconcile started", works for `RECONCILE_SECONDS`, then
logs "reconcile finished" (with whether the informer's watch was still live) or, if cancelled, "reconcile
cancelled". The runtime's own events ("controller stopped", "graceful shutdown timed out; ...") go to the same
stream, so the test reads one ordered record of the shutdown. "running" is logged once the controller runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import structlog

from controller.kube import KubeClient
from controller.kube.resources import CONFIG_MAPS
from controller.runtime.controller import Controller
from controller.runtime.informer import Informer
from controller.runtime.logs import configure_logging
from controller.runtime.manager import Manager, ManagerOptions
from controller.runtime.request import Request, Result

RECONCILE_SECONDS = 1.5
GRACE_SECONDS = 10.0
# Only the test's own ConfigMaps, not the kube-root-ca.crt that every namespace gets.
LABEL = "llmkube.dev/test=drain"

log = structlog.get_logger("manager_program")


class SlowReconciler:
    def __init__(self, informer: Informer) -> None:
        self.informer = informer

    async def reconcile(self, request: Request) -> Result:
        log.info("reconcile started", name=request.name)
        try:
            await anyio.sleep(RECONCILE_SECONDS)
        except anyio.get_cancelled_exc_class():
            log.warning("reconcile cancelled", name=request.name)
            raise
        log.info("reconcile finished", name=request.name, cache_live=self.informer.reflector.connected)
        return Result()


async def main(kubeconfig: Path, namespace: str) -> None:
    async with KubeClient.connect(kubeconfig=kubeconfig) as kube:
        options = ManagerOptions(health_port=0, graceful_shutdown_timeout=GRACE_SECONDS)
        manager = Manager(kube, options=options)
        informer = manager.informer(CONFIG_MAPS, namespace=namespace, label_selector=LABEL)
        manager.add(Controller(name="slow", reconciler=SlowReconciler(informer)).for_(informer))
        async with anyio.create_task_group() as tg:
            await tg.start(manager.run)
            log.info("running")
    log.info("manager exited")


if __name__ == "__main__":
    configure_logging(json=True)
    anyio.run(main, Path(sys.argv[1]), sys.argv[2])
