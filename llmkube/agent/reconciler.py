"""The agent's reconciler: from an InferenceService (and its Model) in the cache to a server, a Service, an
EndpointSlice and a HostServing condition.

Each pass is level-based: it reads the service, the Model and the supervisor's current state, and makes the
world match. Supervisors wake the service's key on every state change, so a crash, a healthy probe or download
progress reaches the API through the same path as a spec change, and a burst of changes collapses into one pass
(the work-queue's dirty set). A service that is gone, being deleted, no longer ours, or scaled to zero has its
server stopped first and its objects withdrawn after, so clients never see a ready endpoint without a server.
"""

from __future__ import annotations

import contextlib

import structlog

from api.objects import Object, is_terminating
from api.v1alpha1.converter import WireError, from_wire
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.model import Model
from controller.builders.service import service_endpoint
from controller.kube import EventRecorder, KubeClient, NotFound
from controller.runtime.request import Request, Result
from llmkube.agent import status
from llmkube.agent.caches import Caches
from llmkube.agent.fleet import Fleet
from llmkube.agent.options import AgentOptions
from llmkube.agent.plan import is_ours, local_url, server_plan
from llmkube.agent.publisher import Publisher, desired_endpoint_slice, desired_service
from llmkube.agent.status import HostServing
from llmkube.agent.supervisor import ServingState

log = structlog.get_logger(__name__)


class AgentReconciler:
    def __init__(
        self,
        *,
        client: KubeClient,
        caches: Caches,
        fleet: Fleet,
        publisher: Publisher,
        recorder: EventRecorder,
        options: AgentOptions,
        host: str,
    ) -> None:
        self._client = client
        self._caches = caches
        self._fleet = fleet
        self._publisher = publisher
        self._recorder = recorder
        self._options = options
        self._host = host
        #: The last cached object of every service this agent served; what shutdown reports AgentStopped on.
        self._served: dict[str, Object] = {}

    async def reconcile(self, request: Request) -> Result:
        obj = self._caches.service(request)
        if obj is None or is_terminating(obj):
            await self._retire(request, obj=None)
            return Result()
        if not is_ours(obj, self._options):
            await self._retire(request, obj=obj if request.key in self._served else None)
            return Result()
        try:
            isvc = from_wire(obj, InferenceService)
        except WireError as exc:
            await self._stop_serving(
                request, obj, HostServing(status="False", reason=status.INVALID_SPEC, message=str(exc))
            )
            return Result()
        if isvc.spec.api_key_secret_ref is not None:
            # Serving without the key would open a service its owner meant to close; refuse it instead.
            message = (
                "spec.apiKeySecretRef is not supported for host-served services yet: the host agent would serve "
                "without the key; remove it or use a cpu, nvidia or amd accelerator"
            )
            await self._stop_serving(
                request, obj, HostServing(status="False", reason=status.INVALID_SPEC, message=message)
            )
            return Result()
        if isvc.spec.replicas == 0:
            message = "spec.replicas is 0: no server runs"
            await self._stop_serving(
                request, obj, HostServing(status="False", reason=status.SCALED_TO_ZERO, message=message)
            )
            return Result()
        model_name = isvc.spec.model_ref.name
        model_obj = self._caches.model(request.namespace, model_name)
        if model_obj is None:
            message = f"Model '{model_name}' not found in namespace {request.namespace}: create it or fix spec.modelRef"
            await self._stop_serving(
                request, obj, HostServing(status="False", reason=status.MODEL_NOT_FOUND, message=message)
            )
            return Result()
        try:
            model = from_wire(model_obj, Model)
        except WireError as exc:
            message = f"Model '{model_name}' is unreadable: {exc}"
            await self._stop_serving(
                request, obj, HostServing(status="False", reason=status.INVALID_SPEC, message=message)
            )
            return Result()

        self._served[request.key] = obj
        await self._fleet.ensure(request.key, server_plan(isvc, model, options=self._options))
        state = self._fleet.state(request.key)
        assert state is not None  # ensure() just made sure a supervisor runs
        await self._publish(isvc, state)
        await self._report(obj, self._verdict(isvc, state))
        return Result()

    # -- serving ------------------------------------------------------------------------------------------------

    def _verdict(self, isvc: InferenceService, state: ServingState) -> HostServing:
        return status.serving_verdict(
            state,
            local_url=local_url(self._options.host_address, state.port),
            cluster_url=service_endpoint(isvc),
            host=self._host,
        )

    async def _publish(self, isvc: InferenceService, state: ServingState) -> None:
        await self._publisher.publish_service(desired_service(isvc, host=self._host))
        if state.port is None:
            return  # nothing to point at before the first server starts
        desired = desired_endpoint_slice(
            isvc,
            address=self._options.host_address,
            port=state.port,
            ready=state.ready,
            host=self._host,
        )
        await self._publisher.publish_slice(desired)

    async def _report(self, obj: Object, wanted: HostServing) -> None:
        before = status.current_condition(obj)
        try:
            written = await status.report(self._client, obj, wanted)
        except NotFound:
            return  # deleted meanwhile; its delete event brings us back
        if written and (before is None or before.get("reason") != wanted.reason):
            await self._recorder.record(
                obj, type=wanted.event_type, reason=wanted.reason, message=wanted.message
            )

    # -- not serving --------------------------------------------------------------------------------------------

    async def _stop_serving(self, request: Request, obj: Object, wanted: HostServing) -> None:
        """Ours, but nothing may run now (bad spec, no Model, scaled to zero): stop, withdraw, say why."""
        self._served[request.key] = obj
        if await self._fleet.stop(request.key):
            log.info("server stopped", service=request.key, reason=wanted.reason)
        await self._publisher.withdraw_slice(namespace=request.namespace, isvc_name=request.name)
        await self._report(obj, wanted)

    async def _retire(self, request: Request, *, obj: Object | None) -> None:
        """Not ours (any more): stop the server, remove our objects, and our condition if the service remains."""
        served = self._served.pop(request.key, None)
        if await self._fleet.stop(request.key):
            log.info(
                "server stopped; the service is gone or no longer served by this agent", service=request.key
            )
        await self._publisher.withdraw_slice(namespace=request.namespace, isvc_name=request.name)
        await self._publisher.withdraw_service(namespace=request.namespace, isvc_name=request.name)
        if obj is not None and served is not None and status.current_condition(obj) is not None:
            with contextlib.suppress(NotFound):
                await status.withdraw(self._client, obj)

    async def shut_down(self) -> None:
        """After every server stopped: withdraw the slices and say so on each service this agent served."""
        wanted = HostServing(
            status="False", reason=status.AGENT_STOPPED, message=f"the host agent on {self._host} stopped"
        )
        for key, obj in list(self._served.items()):
            namespace, _, name = key.partition("/")
            try:
                await self._publisher.withdraw_slice(namespace=namespace, isvc_name=name, cached_only=False)
                await self._report(obj, wanted)
            except Exception:
                log.exception("could not withdraw a service at shutdown", service=key)
