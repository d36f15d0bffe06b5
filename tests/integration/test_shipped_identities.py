"""The controller and the fetcher as they run in a cluster, on their own ServiceAccounts with the RBAC we ship,
and a HuggingFace token that reaches the Hub and nowhere else.

The controller is the installed program (`llmkube-controller`) with a kubeconfig holding a bound token of the
ServiceAccount config/default creates; download pods run under the stand-in kubelet with a token of their own
ServiceAccount (`llmkube-fetch`), as a kubelet would project it. A private repository on a loopback Hub
answers only with the token, so a Ready Model proves the token got through; the test then searches everything a
cluster user or operator can read for it: the fetcher's arguments and output, the Events, the Model, the Jobs
and pods, the controller's log and the API server's audit log. A 403 in either program's log fails the test.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from controller.kube import KubeClient, NotFound
from controller.kube.resources import EVENTS, JOBS, MODELS, NAMESPACES, PODS, SECRETS
from controller.reconcilers.model import FETCH_SELECTOR
from hack.llama import smollm2_gguf
from hack.localcluster import ClusterBase
from hack.localcluster.podrunner import PodRunner
from hack.localcluster.release import CONTROLLER_ACCOUNT, SYSTEM_NAMESPACE, install_without_controller
from hack.localcluster.tokens import service_account_kubeconfig
from tests.integration.namespaces import restricted_namespace
from tests.integration.reconcilers.model_harness import model_manifest, phase_is
from tests.integration.waiting import wait_for
from tests.unit.fetch.model_server import FileServer, HubRepo, HubServer

pytestmark = pytest.mark.cluster

CONTROLLER = Path(sys.executable).parent / "llmkube-controller"
#: No node carries it: download pods wait for the stand-in kubelet.
RUNNER_SELECTOR = "llmkube.dev/runner=local"
REPO, FILENAME = "acme/private-GGUF", "smol.Q4_1.gguf"
#: How a refused call reads in either program's log ("403 Forbidden: ..." from controller.kube.errors).
FORBIDDEN_MARKS = ("Forbidden", "forbidden")


@pytest.fixture(scope="module")
def installed(local_cluster: ClusterBase, tmp_path_factory: pytest.TempPathFactory) -> ClusterBase:
    install_without_controller(local_cluster, tmp_path_factory.mktemp("release"))
    return local_cluster


@pytest.fixture
async def kube(kubeconfig: Path, installed: ClusterBase) -> AsyncIterator[KubeClient]:
    async with KubeClient.connect(kubeconfig=kubeconfig) as client:
        yield client


@pytest.fixture
async def namespace(kube: KubeClient) -> AsyncIterator[str]:
    name = f"ids-{secrets.token_hex(4)}"
    await kube.create(NAMESPACES, restricted_namespace(name))
    yield name
    with contextlib.suppress(NotFound):
        await kube.delete(NAMESPACES, name)


@contextlib.contextmanager
def controller_process(kubeconfig: Path, *, namespace: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`llmkube-controller` for one namespace, logging to `log`, stopped (SIGTERM, then waited for) on exit."""
    argv = [
        str(CONTROLLER),
        "--kubeconfig",
        str(kubeconfig),
        "--namespace",
        namespace,
        "--bind-address=127.0.0.1:0",
        f"--fetch-node-selector={RUNNER_SELECTOR}",
        "--log-format=json",
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def dumped(objects: list[dict[str, Any]]) -> str:
    return json.dumps(objects)


async def test_the_shipped_identities_fetch_a_private_model_and_the_token_stays_secret(
    installed: ClusterBase, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    token = f"hf_{secrets.token_hex(20)}"
    controller_kubeconfig = await anyio.to_thread.run_sync(
        lambda: service_account_kubeconfig(
            installed,
            namespace=SYSTEM_NAMESPACE,
            service_account=CONTROLLER_ACCOUNT,
            path=tmp_path / "controller.kubeconfig",
        )
    )

    def pod_credentials(pod: dict[str, Any]) -> Path:
        meta, account = pod["metadata"], pod["spec"].get("serviceAccountName", "default")
        return service_account_kubeconfig(
            installed,
            namespace=meta["namespace"],
            service_account=account,
            path=tmp_path / "tokens" / f"{meta['namespace']}-{account}.kubeconfig",
        )

    await kube.create(
        SECRETS, {"metadata": {"name": "hf-token", "namespace": namespace}, "stringData": {"token": token}}
    )
    log = tmp_path / "controller.log"
    async with (
        FileServer(smollm2_gguf().read_bytes()) as cdn,
        HubServer(repo=HubRepo(repo=REPO, filename=FILENAME, commit="c" * 40, token=token), cdn=cdn) as hub,
    ):
        runner = PodRunner(
            kube,
            namespace=namespace,
            root=tmp_path / "node",
            kubeconfig_for=pod_credentials,
            node_env={"HF_ENDPOINT": hub.endpoint},
        )
        with controller_process(controller_kubeconfig, namespace=namespace, log=log) as controller:
            async with anyio.create_task_group() as tg:
                await tg.start(
                    lambda task_status: runner.serve(label_selector=FETCH_SELECTOR, task_status=task_status)
                )
                source = {
                    "huggingFace": {
                        "repo": REPO,
                        "filename": FILENAME,
                        "tokenSecretRef": {"name": "hf-token", "key": "token"},
                    }
                }
                await kube.create(MODELS, model_manifest("private", namespace=namespace, source=source))
                ready = await wait_for(
                    lambda: kube.get(MODELS, "private", namespace=namespace),
                    phase_is("Ready", "Failed"),
                    within=180,
                    what="Model private Ready",
                )
                tg.cancel_scope.cancel()
            assert controller.poll() is None, "the controller exited: " + log.read_text()[-2000:]
        hub_authorizations = {r.headers.get("Authorization") for r in hub.requests}

    assert ready["status"]["phase"] == "Ready", ready["status"]
    assert f"Bearer {token}" in hub_authorizations, "the token reached the Hub"
    [run] = runner.runs
    assert run.env.get("HF_TOKEN") == token, "the fetcher got the token from the Secret, as env"
    controller_log = log.read_text()
    fetcher_output = run.stdout + run.stderr + run.message
    assert not [mark for mark in FORBIDDEN_MARKS if mark in controller_log], controller_log[-3000:]
    assert not [mark for mark in FORBIDDEN_MARKS if mark in fetcher_output], fetcher_output[-3000:]

    places = {
        "fetcher arguments": " ".join(run.argv),
        "fetcher output": fetcher_output,
        "controller log": controller_log,
        "Model": json.dumps(ready),
        "Events": dumped((await kube.list(EVENTS, namespace=namespace)).items),
        "Jobs": dumped((await kube.list(JOBS, namespace=namespace)).items),
        "pods": dumped((await kube.list(PODS, namespace=namespace)).items),
    }
    if installed.audit_log is not None and installed.audit_log.exists():
        places["audit log"] = installed.audit_log.read_text(errors="replace")
    assert [where for where, text in places.items() if token in text] == []
