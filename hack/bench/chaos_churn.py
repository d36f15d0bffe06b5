"""The workload of the chaos benchmark: services and Models created, changed, scaled and deleted at random.

The churn acts as a user would, with the admin's client straight to the API server (not through the fault proxy:
the faults are the controllers' problem). It keeps the intended world in `World` (which services and Models exist
and with which spec), so the end of the run can put every Model back and know what must exist. A write that fails
because the API server is down is counted and dropped; the world then records what the API server holds
(read back when the churn ends).

Models share a few sources, all serving the same GGUF under different URLs, so a source change is a new cache key
(a new download) the first time and a reuse afterwards.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import anyio

from controller.kube import KubeClient, KubeError, NotFound
from controller.kube.resources import INFERENCE_SERVICES, MODELS

API_VERSION = "inference.llmkube.dev/v1alpha1"
CONTEXT_SIZES = (512, 1024, 2048)
#: The ops and their weights: mostly spec changes and scaling, with deletions and re-creations among them.
OPS = (
    ("scale service", 30),
    ("update service", 20),
    ("delete service", 6),
    ("create service", 14),
    ("retarget service", 10),
    ("update model", 12),
    ("recreate model", 3),
)


def model_manifest(name: str, namespace: str, *, url: str, sha256: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Model",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"source": {"url": url}, "sha256": sha256},
    }


def service_manifest(
    name: str, namespace: str, *, model: str, replicas: int, context_size: int
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"modelRef": {"name": model}, "replicas": replicas, "contextSize": context_size},
    }


class Churn:
    """Random changes to `services` services over `models` Models, reproducible from `seed`."""

    def __init__(
        self,
        kube: KubeClient,
        *,
        namespace: str,
        services: int,
        models: int,
        source_url: Callable[[int], str],
        sources: int,
        sha256: str,
        seed: int,
    ) -> None:
        self._kube = kube
        self._namespace = namespace
        self._random = random.Random(seed)
        self._source_url = source_url
        self._sources = sources
        self._sha256 = sha256
        self.service_names = [f"svc-{i:04d}" for i in range(services)]
        self.model_names = [f"model-{i:03d}" for i in range(models)]
        self.ops: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()

    def _model_for(self, index: int) -> str:
        return self.model_names[index % len(self.model_names)]

    async def create_all(self, *, concurrency: int = 16) -> None:
        """Every Model, then every service (each on Model index % models), `concurrency` writes in flight."""
        limiter = anyio.CapacityLimiter(concurrency)

        async def create(resource: Any, body: dict[str, Any]) -> None:
            async with limiter:
                await self._kube.create(resource, body)

        async with anyio.create_task_group() as tg:
            for index, name in enumerate(self.model_names):
                body = model_manifest(
                    name,
                    self._namespace,
                    url=self._source_url(index % self._sources),
                    sha256=self._sha256,
                )
                tg.start_soon(create, MODELS, body)
        async with anyio.create_task_group() as tg:
            for index, name in enumerate(self.service_names):
                body = service_manifest(
                    name, self._namespace, model=self._model_for(index), replicas=1, context_size=1024
                )
                tg.start_soon(create, INFERENCE_SERVICES, body)

    async def run(self, *, ops_per_second: float) -> None:
        """Random ops until cancelled."""
        names = [name for name, _ in OPS]
        weights = [weight for _, weight in OPS]
        while True:
            op = self._random.choices(names, weights)[0]
            try:
                await self._do(op)
                self.ops[op] += 1
            except (KubeError, OSError, TimeoutError):
                self.failed[op] += 1  # the API server is down or refusing: a user would retry later
            await anyio.sleep(self._random.expovariate(ops_per_second))

    async def _do(self, op: str) -> None:
        ns, kube = self._namespace, self._kube
        service = self._random.choice(self.service_names)
        model = self._random.choice(self.model_names)
        if op == "scale service":
            patch = {"spec": {"replicas": self._random.randint(0, 3)}}
            await kube.merge_patch(INFERENCE_SERVICES, service, patch, namespace=ns)
        elif op == "update service":
            patch = {"spec": {"contextSize": self._random.choice(CONTEXT_SIZES)}}
            await kube.merge_patch(INFERENCE_SERVICES, service, patch, namespace=ns)
        elif op == "retarget service":
            await kube.merge_patch(
                INFERENCE_SERVICES, service, {"spec": {"modelRef": {"name": model}}}, namespace=ns
            )
        elif op == "delete service":
            await kube.delete(INFERENCE_SERVICES, service, namespace=ns)
        elif op == "create service":
            body = service_manifest(
                service, ns, model=model, replicas=1, context_size=self._random.choice(CONTEXT_SIZES)
            )
            try:
                await kube.create(INFERENCE_SERVICES, body)
            except KubeError as err:
                if getattr(err, "status", None) != 409:
                    raise
        elif op == "update model":
            url = self._source_url(self._random.randrange(self._sources))
            await kube.merge_patch(MODELS, model, {"spec": {"source": {"url": url}}}, namespace=ns)
        elif op == "recreate model":
            await self._recreate_model(model)

    async def _recreate_model(self, model: str) -> None:
        with contextlib.suppress(NotFound):
            await self._kube.delete(MODELS, model, namespace=self._namespace)
        with anyio.fail_after(60):
            while True:
                try:
                    await self._kube.get(MODELS, model, namespace=self._namespace)
                except NotFound:
                    break
                await anyio.sleep(0.5)
        await self.ensure_model(model)

    async def ensure_model(self, model: str) -> None:
        url = self._source_url(self._random.randrange(self._sources))
        body = model_manifest(model, self._namespace, url=url, sha256=self._sha256)
        try:
            await self._kube.create(MODELS, body)
        except KubeError as err:
            if getattr(err, "status", None) != 409:
                raise

    async def restore_models(self) -> None:
        """After the churn: every Model exists again (a recreate the API server's restart cut short)."""
        for model in self.model_names:
            for _ in range(30):
                try:
                    await self._kube.get(MODELS, model, namespace=self._namespace)
                    break
                except NotFound:
                    await self.ensure_model(model)
                    break
                except (KubeError, OSError):
                    await anyio.sleep(1)
