"""The Model reconciler against the local control plane: real API server, real Job controller and garbage
collector, the real `llmkube fetch` run by a stand-in kubelet, and the SmolLM2 GGUF served over loopback."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from prometheus_client import CollectorRegistry

from api.v1alpha1.fetch_result import cache_key_for
from api.v1alpha1.well_known import FETCH_ATTEMPT_ANNOTATION
from controller.builders.conditions import parse_time
from controller.config import ControllerConfig
from controller.kube import KubeClient, NotFound
from controller.kube.resources import (
    JOBS,
    MODELS,
    NAMESPACES,
    PERSISTENT_VOLUME_CLAIMS,
    PODS,
    ROLE_BINDINGS,
    ROLES,
    SECRETS,
    SERVICE_ACCOUNTS,
)
from controller.reconcilers.model import FETCH_SELECTOR
from hack.llama import smollm2_gguf
from hack.localcluster import ClusterBase
from hack.localcluster.podrunner import PodRunner
from tests.integration.events import event_reasons
from tests.integration.namespaces import restricted_namespace
from tests.integration.reconcilers.model_harness import (
    CountingKubeClient,
    condition,
    fetch_jobs,
    get_model,
    model_manifest,
    model_test_config,
    phase_is,
    running_model_controller,
    wait_for,
)
from tests.unit.fetch.model_server import FileServer

pytestmark = pytest.mark.cluster

STEADY_SECONDS = 30.0
WRONG_SHA256 = "0" * 64
# Retries ten minutes away: a retry can neither replace a Failed phase before the test reads it nor run again.
NO_RETRY = model_test_config(fetch_retry_initial_seconds=600.0, fetch_retry_max_seconds=600.0)


@attrs.frozen(kw_only=True)
class Env:
    kube: KubeClient
    namespace: str
    controller: CountingKubeClient
    kubelet: PodRunner
    registry: CollectorRegistry

    async def model(self, name: str) -> dict[str, Any]:
        return await get_model(self.kube, name, self.namespace)

    async def create_model(self, name: str, **spec: Any) -> dict[str, Any]:
        return await self.kube.create(MODELS, model_manifest(name, namespace=self.namespace, **spec))

    async def wait_model(self, name: str, phase: str, *, within: float = 60.0) -> dict[str, Any]:
        return await wait_for(
            lambda: self.model(name), phase_is(phase), within=within, what=f"Model {name} {phase}"
        )

    async def wait_held(self, name: str) -> dict[str, Any]:
        """The Model follows its Job, whose pod waits unscheduled for the stand-in kubelet: the Model says so."""
        return await wait_for(
            lambda: self.model(name),
            lambda m: phase_is("Pending")(m) and condition(m, "Ready").get("reason") == "Unschedulable",
            what=f"Model {name} Pending, its download pod Unschedulable",
        )


@pytest.fixture(scope="session")
def model_file() -> bytes:
    return smollm2_gguf().read_bytes()


@pytest.fixture(scope="session")
async def file_server(model_file: bytes) -> AsyncIterator[FileServer]:
    async with FileServer(model_file) as server:
        yield server


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[KubeClient]:
    async with KubeClient.connect(kubeconfig=kubeconfig) as client:
        yield client


@pytest.fixture(scope="session")
def crds(local_cluster: ClusterBase) -> None:
    local_cluster.install_crds()


@pytest.fixture
async def namespace(kube: KubeClient, crds: None) -> AsyncIterator[str]:
    name = f"model-{secrets.token_hex(4)}"
    await kube.create(NAMESPACES, restricted_namespace(name))
    yield name
    with contextlib.suppress(NotFound):
        await kube.delete(NAMESPACES, name)


@contextlib.asynccontextmanager
async def environment(
    kube: KubeClient,
    kubeconfig: Path,
    namespace: str,
    root: Path,
    *,
    config: ControllerConfig | None = None,
    run_pods: bool = True,
) -> AsyncIterator[Env]:
    """The Model controller and, unless `run_pods` is false, a kubelet running its download pods."""
    registry = CollectorRegistry()
    kubelet = PodRunner(kube, namespace=namespace, root=root, service_account_kubeconfig=Path(kubeconfig))
    async with (
        running_model_controller(
            kubeconfig, namespace=namespace, config=config or model_test_config(), registry=registry
        ) as controller,
        anyio.create_task_group() as tg,
    ):
        if run_pods:
            await tg.start(
                lambda task_status: kubelet.serve(label_selector=FETCH_SELECTOR, task_status=task_status)
            )
        yield Env(kube=kube, namespace=namespace, controller=controller, kubelet=kubelet, registry=registry)
        tg.cancel_scope.cancel()


OpenEnv = Callable[..., contextlib.AbstractAsyncContextManager[Env]]


async def job_pods(kube: KubeClient, job: dict[str, Any]) -> list[dict[str, Any]]:
    """The download pods the Job controller made for `job`."""
    meta = job["metadata"]
    pods = await kube.list(PODS, namespace=meta["namespace"], label_selector=FETCH_SELECTOR)
    return [
        pod
        for pod in pods.items
        if any(ref.get("uid") == meta["uid"] for ref in pod["metadata"].get("ownerReferences") or ())
    ]


def job_complete(job: dict[str, Any]) -> bool:
    conditions = (job.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Complete" and c.get("status") == "True" for c in conditions)


async def run_the_pod_of(env: Env, job: dict[str, Any]) -> None:
    """Play the kubelet for `job`'s pod once, at the moment the test chooses."""
    [pod] = await wait_for(
        lambda: job_pods(env.kube, job), bool, what=f"the pod of {job['metadata']['name']}"
    )
    await env.kubelet.run_pod(pod)


@pytest.fixture
def open_env(kube: KubeClient, kubeconfig: Path, namespace: str, tmp_path: Path) -> OpenEnv:
    """Opens the environment inside the test: its task group must not straddle a fixture's yield."""
    return functools.partial(environment, kube, kubeconfig, namespace, tmp_path)


async def test_a_model_becomes_ready_with_the_facts_of_the_fetched_file(
    open_env: OpenEnv, file_server: FileServer, model_file: bytes
) -> None:
    url = file_server.url("/ready/SmolLM2-135M-Instruct.Q4_1.gguf")
    key = cache_key_for(url)
    async with open_env() as env:
        created = await env.create_model("smol", source={"url": url})
        ready = await env.wait_model("smol", "Ready")
        status = ready["status"]
        assert status["cacheKey"] == key
        assert status["path"] == f"/models/{key}/model.gguf"
        assert status["sizeBytes"] == len(model_file)
        assert status["size"].endswith("MiB")
        assert status["sha256"] == hashlib.sha256(model_file).hexdigest()
        assert status["gguf"]["architecture"] == "llama"
        assert "progress" not in status, "progress is cleared once the model is Ready"
        assert status["observedGeneration"] == created["metadata"]["generation"]
        assert condition(ready, "Ready")["status"] == "True"
        assert condition(ready, "Degraded")["status"] == "False"
        cached = env.kubelet.claim_dir("llmkube-model-cache") / key / "model.gguf"
        assert cached.stat().st_size == len(model_file)
        await wait_for(lambda: fetch_jobs(env.kube, env.namespace), lambda jobs: not jobs, what="Job deleted")
        # Events are posted in the background, just after the writes they are about.
        await wait_for(
            lambda: event_reasons(env.kube, env.namespace, "smol"),
            lambda reasons: {"DownloadStarted", "Downloaded"} <= reasons.keys(),
            what="DownloadStarted and Downloaded Events",
        )
        assert env.registry.get_sample_value("llmkube_models", {"phase": "Ready"}) == 1
        downloaded = env.registry.get_sample_value("llmkube_model_download_bytes_total", {"source": "url"})
        assert downloaded == len(model_file)


async def test_the_download_job_runs_as_the_fetch_account_with_the_cache_claim(
    open_env: OpenEnv, file_server: FileServer
) -> None:
    async with open_env() as env:
        await env.create_model("owned", source={"url": file_server.url("/owned/m.gguf")})
        await env.wait_model("owned", "Ready")
        assert env.kubelet.runs[0].env["POD_NAMESPACE"] == env.namespace
        name = "llmkube-fetch"
        await env.kube.get(SERVICE_ACCOUNTS, name, namespace=env.namespace)
        role = await env.kube.get(ROLES, name, namespace=env.namespace)
        binding = await env.kube.get(ROLE_BINDINGS, name, namespace=env.namespace)
        assert role["rules"] == [
            {
                "apiGroups": ["inference.llmkube.dev"],
                "resources": ["models/status"],
                "verbs": ["get", "patch"],
            }
        ]
        assert binding["subjects"][0]["name"] == name
        claim = await env.kube.get(PERSISTENT_VOLUME_CLAIMS, "llmkube-model-cache", namespace=env.namespace)
        assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
        assert "ownerReferences" not in claim["metadata"]


async def test_a_checksum_mismatch_is_degraded_and_never_ready(
    open_env: OpenEnv, file_server: FileServer
) -> None:
    url = file_server.url("/mismatch/m.gguf")
    async with open_env(config=NO_RETRY) as env:
        await env.create_model("bad-sum", source={"url": url}, sha256=WRONG_SHA256)
        failed = await env.wait_model("bad-sum", "Failed")
        assert condition(failed, "Degraded")["reason"] == "ChecksumMismatch"
        assert condition(failed, "Ready")["status"] == "False"
        assert "sha256" not in failed["status"]
        assert not (env.kubelet.claim_dir("llmkube-model-cache") / cache_key_for(url) / "model.gguf").exists()
        # The Event about a transition is posted just after the status that shows it.
        await wait_for(
            lambda: event_reasons(env.kube, env.namespace, "bad-sum"),
            lambda reasons: reasons.get("DownloadFailed", 0) >= 1,
            what="the failure recorded",
        )


async def test_a_wrong_sha256_set_after_the_download_finished_is_degraded_and_never_ready(
    open_env: OpenEnv, file_server: FileServer
) -> None:
    async with open_env(run_pods=False, config=NO_RETRY) as env:
        await env.create_model("late-sum", source={"url": file_server.url("/late-sum/m.gguf")})
        [first] = await wait_for(lambda: fetch_jobs(env.kube, env.namespace), bool, what="the first Job")
        await env.wait_held("late-sum")
    # With the controller away, the first Job succeeds and the spec then asks for another digest: the finished
    # Job's good result is waiting when the controller comes back.
    await run_the_pod_of(env, first)
    await wait_for(
        lambda: env.kube.get(JOBS, first["metadata"]["name"], namespace=env.namespace),
        job_complete,
        what="the first Job complete",
    )
    await env.kube.merge_patch(
        MODELS, "late-sum", {"spec": {"sha256": WRONG_SHA256}}, namespace=env.namespace
    )
    async with open_env(config=NO_RETRY) as env:
        failed = await env.wait_model("late-sum", "Failed")
        degraded = condition(failed, "Degraded")
        assert degraded["reason"] == "ChecksumMismatch"
        assert f"expected {WRONG_SHA256}" in degraded["message"]
        assert "sha256" not in failed["status"]
        assert "Downloaded" not in await event_reasons(env.kube, env.namespace, "late-sum")
        [rerun] = env.kubelet.runs
        assert rerun.argv[rerun.argv.index("--sha256") + 1] == WRONG_SHA256


async def test_a_wrong_sha256_set_while_the_download_runs_replaces_the_job_and_is_never_ready(
    open_env: OpenEnv, file_server: FileServer
) -> None:
    async with open_env(run_pods=False, config=NO_RETRY) as env:
        await env.create_model("mid-sum", source={"url": file_server.url("/mid-sum/m.gguf")})
        [first] = await wait_for(lambda: fetch_jobs(env.kube, env.namespace), bool, what="the first Job")
        await env.wait_held("mid-sum")
        await env.kube.merge_patch(
            MODELS, "mid-sum", {"spec": {"sha256": WRONG_SHA256}}, namespace=env.namespace
        )
        [second] = await wait_for(
            lambda: fetch_jobs(env.kube, env.namespace),
            lambda jobs: [j["metadata"]["uid"] for j in jobs] not in ([], [first["metadata"]["uid"]]),
            what="the first Job replaced",
        )
        await run_the_pod_of(env, second)
        failed = await env.wait_model("mid-sum", "Failed")
        assert condition(failed, "Degraded")["reason"] == "ChecksumMismatch"
        assert condition(failed, "Ready")["status"] == "False"
        assert failed["status"]["observedGeneration"] == 2
        assert "Downloaded" not in await event_reasons(env.kube, env.namespace, "mid-sum")
        [run] = env.kubelet.runs
        assert run.argv[run.argv.index("--sha256") + 1] == WRONG_SHA256
        assert await job_pods(env.kube, first) == []


async def test_correcting_a_wrong_sha256_fetches_again_at_once_and_becomes_ready(
    open_env: OpenEnv, file_server: FileServer, model_file: bytes
) -> None:
    digest = hashlib.sha256(model_file).hexdigest()
    # A retry of the failed attempt would wait ten minutes: only a fresh Job can make the Model Ready in time.
    async with open_env(config=NO_RETRY) as env:
        await env.create_model(
            "fixed-sum", source={"url": file_server.url("/fixed-sum/m.gguf")}, sha256=WRONG_SHA256
        )
        failed = await env.wait_model("fixed-sum", "Failed")
        assert condition(failed, "Degraded")["reason"] == "ChecksumMismatch"
        await env.kube.merge_patch(MODELS, "fixed-sum", {"spec": {"sha256": digest}}, namespace=env.namespace)
        ready = await env.wait_model("fixed-sum", "Ready")
        assert ready["status"]["sha256"] == digest
        assert ready["status"]["observedGeneration"] == 2
        assert [r.argv[r.argv.index("--sha256") + 1] for r in env.kubelet.runs] == [WRONG_SHA256, digest]


async def test_a_missing_source_is_degraded_and_retried_with_backoff(
    open_env: OpenEnv, model_file: bytes
) -> None:
    async with FileServer(model_file) as missing, open_env() as env:
        missing.faults.status = 404
        await env.create_model("gone", source={"url": missing.url("/nothing/here.gguf")})
        failed = await env.wait_model("gone", "Failed")
        assert condition(failed, "Degraded")["reason"] == "SourceNotFound"
        [retry] = await wait_for(
            lambda: fetch_jobs(env.kube, env.namespace),
            lambda jobs: any(j["metadata"]["annotations"].get(FETCH_ATTEMPT_ANNOTATION) == "2" for j in jobs),
            what="a second attempt",
        )
        # Not before the first delay (3 s). Both times are the server's, in whole seconds, so the bound is exact.
        first_ended = parse_time(env.kubelet.runs[0].finished_at)
        retried_at = parse_time(retry["metadata"]["creationTimestamp"])
        assert first_ended is not None
        assert retried_at is not None
        assert (retried_at - first_ended).total_seconds() >= 3.0
        await wait_for(
            lambda: event_reasons(env.kube, env.namespace, "gone"),
            lambda reasons: reasons.get("DownloadFailed", 0) >= 2,
            what="the second failure recorded",
        )
        assert condition(await env.model("gone"), "Ready")["status"] == "False"


async def test_a_spec_change_fetches_the_new_source_with_a_new_job(
    open_env: OpenEnv, file_server: FileServer
) -> None:
    first_url, second_url = file_server.url("/v1/m.gguf"), file_server.url("/v2/m.gguf")
    async with open_env() as env:
        await env.create_model("moving", source={"url": first_url})
        await env.wait_model("moving", "Ready")
        await env.kube.merge_patch(
            MODELS, "moving", {"spec": {"source": {"url": second_url}}}, namespace=env.namespace
        )
        moved = await wait_for(
            lambda: env.model("moving"),
            lambda m: phase_is("Ready")(m) and m["status"]["cacheKey"] == cache_key_for(second_url),
            what="Ready for the new source",
        )
        assert moved["status"]["observedGeneration"] == 2
        assert [run.pod.rsplit("-", 1)[0] for run in env.kubelet.runs] == [
            f"moving-fetch-{cache_key_for(first_url)[:8]}",
            f"moving-fetch-{cache_key_for(second_url)[:8]}",
        ]


async def test_a_second_model_with_the_same_source_reuses_the_cached_file(
    open_env: OpenEnv, file_server: FileServer
) -> None:
    url = file_server.url("/shared/m.gguf")
    async with open_env() as env:
        await env.create_model("first", source={"url": url})
        await env.wait_model("first", "Ready")
        downloads = sum(1 for r in file_server.gets if r.path == "/shared/m.gguf")
        await env.create_model("second", source={"url": url})
        second = await env.wait_model("second", "Ready")
        assert "reused from the cache" in condition(second, "Ready")["message"]
        assert second["status"]["cacheKey"] == cache_key_for(url)
        assert sum(1 for r in file_server.gets if r.path == "/shared/m.gguf") == downloads


async def test_a_missing_token_secret_fails_at_once_naming_the_secret(open_env: OpenEnv) -> None:
    source = {
        "huggingFace": {"repo": "org/private-GGUF", "filename": "m.gguf", "tokenSecretRef": {"name": "hf"}}
    }
    async with open_env() as env:
        await env.create_model("private", source=source)
        failed = await env.wait_model("private", "Failed")
        degraded = condition(failed, "Degraded")
        assert degraded["reason"] == "Unauthorized"
        assert "'hf'" in degraded["message"]
        assert await fetch_jobs(env.kube, env.namespace) == []
        await env.kube.create(
            SECRETS, {"metadata": {"name": "hf", "namespace": env.namespace}, "stringData": {"token": "x"}}
        )
        await wait_for(lambda: fetch_jobs(env.kube, env.namespace), bool, what="a Job once the Secret exists")


async def test_deleting_a_model_garbage_collects_its_job(open_env: OpenEnv, file_server: FileServer) -> None:
    async with open_env(run_pods=False) as env:
        await env.create_model("doomed", source={"url": file_server.url("/doomed/m.gguf")})
        await wait_for(lambda: fetch_jobs(env.kube, env.namespace), bool, what="the download Job")
        await env.wait_held("doomed")
        await env.kube.delete(MODELS, "doomed", namespace=env.namespace)
        await wait_for(
            lambda: fetch_jobs(env.kube, env.namespace), lambda jobs: not jobs, what="the Job collected"
        )


async def test_a_ready_model_is_not_fetched_again_after_a_restart_and_causes_no_writes(
    open_env: OpenEnv, file_server: FileServer
) -> None:
    async with open_env() as env:
        await env.create_model("steady", source={"url": file_server.url("/steady/m.gguf")})
        before = await env.wait_model("steady", "Ready")
        await wait_for(lambda: fetch_jobs(env.kube, env.namespace), lambda jobs: not jobs, what="Job deleted")
        assert len(env.kubelet.runs) == 1
    async with open_env() as env:
        await anyio.sleep(STEADY_SECONDS)
        writes = list(env.controller.writes)
        assert writes == [], f"{len(writes)} writes in {STEADY_SECONDS:g} s: {writes}"
        assert await fetch_jobs(env.kube, env.namespace) == []
        assert env.kubelet.runs == []
        assert (await env.model("steady"))["status"] == before["status"]


async def test_the_fetcher_reports_progress_into_the_model_status(kube: KubeClient, namespace: str) -> None:
    from llmkube.fetch.progress import Progress
    from llmkube.fetch.status_progress import ModelProgressReporter

    await kube.create(
        MODELS, model_manifest("progressing", namespace=namespace, source={"url": "https://h/m.gguf"})
    )
    reporter = ModelProgressReporter(kube, name="progressing", namespace=namespace, budget_s=30.0)
    await reporter(Progress(bytes_done=512, bytes_total=2048, bytes_per_second=100.0))
    model = await get_model(kube, "progressing", namespace)
    assert model["status"]["progress"] == {"bytesDone": 512, "bytesTotal": 2048}
    managers = {entry["manager"] for entry in model["metadata"]["managedFields"]}
    assert "llmkube-fetch" in managers
