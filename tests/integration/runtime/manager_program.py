"""A manager process for the signal test: runs until SIGTERM and prints each lifecycle step on stdout."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
from anyio.abc import TaskStatus

from controller.kube import KubeClient
from controller.kube.resources import CONFIG_MAPS
from controller.runtime.informer import Informer
from controller.runtime.manager import Manager, ManagerOptions


class Controller:
    def __init__(self, informer: Informer) -> None:
        self.informer = informer

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            print(f"controller stopped; cache live={self.informer.reflector.connected}", flush=True)


async def main(kubeconfig: Path, namespace: str) -> None:
    async with KubeClient.connect(kubeconfig=kubeconfig) as kube:
        manager = Manager(kube, options=ManagerOptions(health_port=0, graceful_shutdown_timeout=10))
        informer = manager.informer(CONFIG_MAPS, namespace=namespace)
        manager.add(Controller(informer))
        async with anyio.create_task_group() as tg:
            await tg.start(manager.run)
            while not informer.reflector.connected:  # noqa: ASYNC110 - a test program; nothing to wait on
                await anyio.sleep(0.05)
            print("running", flush=True)
    print("manager exited", flush=True)


if __name__ == "__main__":
    anyio.run(main, Path(sys.argv[1]), sys.argv[2])
