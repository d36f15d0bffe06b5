"""`llmkube-controller`: the manager program that runs the Model and InferenceService controllers.

Exit codes: 0 after a graceful shutdown (SIGTERM), 1 when leadership was lost or the caches never synced (the
kubelet restarts the pod, which is the safe answer to both) or when there is no cluster to connect to, 2 for bad
flags.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import anyio
import attrs
import structlog

from controller.config import CONTROLLER_PROGRAM, ControllerConfig, ControllerOptions
from controller.kube import ConfigUnavailable, KubeClient, KubeError, user_agent
from controller.kube.recorder import EventRecorder
from controller.kube.resources import PODS
from controller.options import ManagerFlags, parse_flags
from controller.reconcilers.inferenceservice import setup_inferenceservice_controller
from controller.reconcilers.model import setup_model_controller
from controller.runtime.controller import Controller
from controller.runtime.leaderelection import LeaderElectionConfig, LeadershipLost
from controller.runtime.logs import configure_logging
from controller.runtime.manager import CacheSyncTimeout, Manager, ManagerOptions

log = structlog.get_logger("llmkube.controller")

#: The container of the controller Deployment whose image download Jobs reuse (config/manager/manager.yaml).
MANAGER_CONTAINER = "manager"


async def own_image(client: KubeClient, *, pod_name: str | None, namespace: str) -> str | None:
    """The image this controller runs, read from its own pod, so download Jobs run the same `llmkube fetch`.

    kustomize rewrites the Deployment's image but cannot rewrite a flag, so asking the API is what keeps the two
    in step after `kustomize edit set image`.
    """
    if not pod_name:
        return None
    try:
        pod = await client.get(PODS, pod_name, namespace=namespace)
    except KubeError as exc:
        log.warning("cannot read own pod to find the fetcher image; using the default", error=str(exc))
        return None
    for container in pod.get("spec", {}).get("containers", []):
        if container.get("name") == MANAGER_CONTAINER:
            image = container.get("image")
            return image if isinstance(image, str) else None
    return None


def setup_controllers(
    manager: Manager, flags: ManagerFlags, *, config: ControllerConfig, recorder: EventRecorder
) -> list[Controller]:
    """Both controllers, set up from the same options: the one path from the flags to the controllers."""
    options = ControllerOptions(
        config=config, namespace=flags.namespace, max_concurrent_reconciles=flags.max_concurrent_reconciles
    )
    return [
        setup_model_controller(manager, options, recorder=recorder),
        setup_inferenceservice_controller(manager, options, recorder=recorder),
    ]


async def run(flags: ManagerFlags, *, pod_name: str | None = None) -> None:
    async with KubeClient.connect(
        kubeconfig=flags.kubeconfig, context=flags.context, user_agent=user_agent(CONTROLLER_PROGRAM)
    ) as client:
        config = flags.config
        if not flags.fetcher_image_explicit:
            image = await own_image(client, pod_name=pod_name, namespace=flags.leader_election_namespace)
            if image:
                config = attrs.evolve(config, fetcher_image=image)
        election = (
            LeaderElectionConfig(
                namespace=flags.leader_election_namespace,
                name=flags.leader_election_id,
                identity=flags.identity,
            )
            if flags.leader_elect
            else None
        )
        manager = Manager(
            client,
            options=ManagerOptions(
                health_host=flags.bind_host,
                health_port=flags.bind_port,
                leader_election=election,
                graceful_shutdown_timeout=flags.graceful_shutdown_timeout,
            ),
        )
        recorder = EventRecorder(client, component=CONTROLLER_PROGRAM, instance=flags.identity)
        manager.add(recorder, needs_leader=False)
        setup_controllers(manager, flags, config=config, recorder=recorder)
        log.info(
            "starting",
            namespace=flags.namespace or "*",
            leader_elect=flags.leader_elect,
            bind=f"{flags.bind_host}:{flags.bind_port}",
            max_concurrent_reconciles=flags.max_concurrent_reconciles,
            fetcher_image=config.fetcher_image,
        )
        await manager.run()


def main(argv: Sequence[str] | None = None) -> int:
    flags = parse_flags(argv)
    configure_logging(level=flags.log_level, json=flags.log_format == "json")
    try:
        anyio.run(lambda: run(flags, pod_name=os.environ.get("POD_NAME")), backend="asyncio")
    except LeadershipLost:
        log.error("leadership lost; exiting so a fresh process campaigns again")
        return 1
    except ConfigUnavailable as exc:
        log.error(
            "no cluster to connect to: run in a pod with a ServiceAccount, or pass --kubeconfig",
            error=exc.message,
        )
        return 1
    except CacheSyncTimeout as exc:
        log.error("caches did not sync", error=str(exc))
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
