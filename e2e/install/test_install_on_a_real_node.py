"""The install a user does, on the local cluster's real node: `kubectl apply -k`, deploy SmolLM2 on CPU, chat,
scale, delete, uninstall. Every container is real: the controller runs in a pod as its own ServiceAccount, the
download Job's pod fetches the file over HTTP from a server on the node's bridge and writes the cache claim, and
llama-server pods with the restricted security context serve through their Service.

The images are the ones built here from this repository (hack/images), imported into the node, and installed
through a kustomize overlay of `config/default` that names them; the gateway `config/default` installs runs from
the same image and routes between two services on the one downloaded Model. The tests run in file order and share one
install, each step building on the one before, as a user's session does.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import openai
import pytest

from e2e.install.clients import chat, http_get
from e2e.install.file_server import ServedDirectory, serve_directory
from e2e.install.gateway_client import gateway_client, ready_models, second_service
from hack.images import ensure_images
from hack.images.overlay import write_overlay
from hack.llama import smollm2_gguf
from hack.localcluster import LocalCluster
from hack.localcluster.nodeconfig import NODE_IP, NODE_NAME, POD_SUBNET
from tests.integration.realnode.workloads import get, scratch_namespace

pytestmark = pytest.mark.timeout(900)

REPO = Path(__file__).resolve().parents[2]
SYSTEM_NAMESPACE = "llmkube-system"
SERVICE_ACCOUNT = "llmkube-controller-manager"
METRICS_SERVICE = "llmkube-controller-manager-metrics"
LEASE = "llmkube-controller-leader"
CACHE_CLAIM = "llmkube-model-cache"
NAME = "smollm2"
#: A second service on the same Model, so the gateway has two pod-served services to route between.
SECOND = "smollm2-second"
IMAGES = ("controller", "llama-server-cpu")
WAIT_SECONDS = 300.0
QUESTION = "Name one colour. One word."

T = TypeVar("T")


def eventually(probe: Callable[[], T], *, what: str, timeout: float = WAIT_SECONDS) -> T:
    """`probe()` once it stops raising AssertionError; the last failure, with `what`, after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe()
        except AssertionError as error:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} within {timeout:.0f} s: {error}") from error
        time.sleep(1.0)


@pytest.fixture(scope="module")
def images(real_cluster: LocalCluster) -> dict[str, str]:
    """The controller and CPU llama-server images built from this checkout, imported into the real node."""
    built = ensure_images(IMAGES)
    for name in IMAGES:
        real_cluster.load_image(built[name].archive)
    return {name: built[name].reference for name in IMAGES}


@pytest.fixture(scope="module")
def overlay(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_overlay(
        tmp_path_factory.mktemp("overlay"),
        controller=images["controller"],
        llama_server_cpu=images["llama-server-cpu"],
    )


@pytest.fixture(scope="module")
def installed(real_cluster: LocalCluster, overlay: Path) -> Iterator[Path]:
    """`kubectl apply -k` of the overlay; uninstalled at the end if the uninstall test did not get that far."""
    real_cluster.kubectl("apply", "-k", str(overlay))
    try:
        yield overlay
    finally:
        real_cluster.kubectl("delete", "-k", str(overlay), "--ignore-not-found", check=False)


@pytest.fixture(scope="module")
def namespace(real_cluster: LocalCluster) -> Iterator[str]:
    with scratch_namespace(real_cluster) as name:
        yield name


@pytest.fixture(scope="module")
def model_source(real_cluster: LocalCluster) -> Iterator[ServedDirectory]:
    """SmolLM2 served over HTTP on the node's address, which pods reach through their gateway."""
    assert real_cluster.node is not None
    with serve_directory(smollm2_gguf().parent, address=NODE_IP) as served:
        yield served


def llmkube(cluster: LocalCluster, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it (the console script beside this Python), with the cluster's kubeconfig."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "llmkube"), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
    )


def controller_pod(cluster: LocalCluster) -> dict[str, Any]:
    """The Ready controller pod (the gateway's pods share the namespace, told apart by their component label)."""
    pods: list[dict[str, Any]] = [
        pod
        for pod in get(cluster, SYSTEM_NAMESPACE, "pods")["items"]
        if pod["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "controller"
    ]
    ready = [pod for pod in pods if is_ready(pod)]
    assert len(ready) == 1, [(p["metadata"]["name"], p.get("status", {}).get("phase")) for p in pods]
    return ready[0]


def is_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def serving_pods(cluster: LocalCluster, namespace: str) -> list[dict[str, Any]]:
    """The pods the InferenceService selects, by the selector its scale subresource publishes."""
    selector = get(cluster, namespace, f"inferenceservice/{NAME}")["status"]["selector"]
    listed = cluster.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout
    pods: list[dict[str, Any]] = json.loads(listed)["items"]
    return pods


def in_pod_subnet(address: str) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(POD_SUBNET)


def test_the_controller_pod_becomes_ready_as_its_own_service_account(
    real_cluster: LocalCluster, installed: Path, images: dict[str, str]
) -> None:
    pod = eventually(lambda: controller_pod(real_cluster), what="a Ready controller pod")

    assert pod["spec"]["serviceAccountName"] == SERVICE_ACCOUNT
    assert pod["spec"]["nodeName"] == NODE_NAME
    assert pod["spec"]["containers"][0]["image"] == images["controller"]
    assert in_pod_subnet(pod["status"]["podIP"])


def test_the_controller_elects_itself_leader_through_the_api_as_its_service_account(
    real_cluster: LocalCluster, installed: Path
) -> None:
    pod = controller_pod(real_cluster)
    name = pod["metadata"]["name"]

    def held() -> dict[str, Any]:
        lease = get(real_cluster, SYSTEM_NAMESPACE, f"lease/{LEASE}")
        assert lease["spec"].get("holderIdentity") == name, lease["spec"]
        return lease

    eventually(held, what=f"lease {LEASE} held by {name}")
    writes = [
        event
        for event in real_cluster.audit_events()
        if (event.get("objectRef") or {}).get("resource") == "leases"
        and (event.get("objectRef") or {}).get("name") == LEASE
    ]

    assert writes, "the API server recorded no write to the lease"
    assert {event["user"]["username"] for event in writes} == {
        f"system:serviceaccount:{SYSTEM_NAMESPACE}:{SERVICE_ACCOUNT}"
    }
    # The writes came from the pod's network, through the `kubernetes` Service.
    assert all(in_pod_subnet(address) for event in writes for address in event.get("sourceIPs", [])), writes


def test_healthz_and_metrics_answer_through_the_metrics_service(
    real_cluster: LocalCluster, installed: Path, namespace: str, images: dict[str, str]
) -> None:
    base = f"http://{METRICS_SERVICE}.{SYSTEM_NAMESPACE}.svc.cluster.local:8080"

    replies = http_get(
        real_cluster,
        namespace,
        "metrics-client",
        image=images["controller"],
        urls=[f"{base}/healthz", f"{base}/readyz", f"{base}/metrics"],
    )

    healthz, readyz, metrics = replies
    assert (healthz["status"], healthz["body"].strip()) == (200, "ok")
    assert (readyz["status"], readyz["body"].strip()) == (200, "ok")
    assert metrics["status"] == 200
    assert 'controller_runtime_reconcile_total{controller="model"' in metrics["body"], metrics["body"][:2000]


def test_deploy_downloads_the_model_in_a_job_pod_that_writes_the_cache_claim(
    real_cluster: LocalCluster, installed: Path, namespace: str, model_source: ServedDirectory
) -> None:
    gguf = smollm2_gguf()
    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()

    deployed = llmkube(
        real_cluster,
        "deploy",
        NAME,
        "--source",
        f"{model_source.url}/{gguf.name}",
        "--sha256",
        digest,
        "--accelerator",
        "cpu",
        "--context-size",
        "2048",
        "-n",
        namespace,
        "--wait",
        "--timeout",
        "600",
    )

    assert deployed.returncode == 0, f"{deployed.stdout}\n{deployed.stderr}"
    model = get(real_cluster, namespace, f"model/{NAME}")
    assert model["status"]["phase"] == "Ready"
    assert model["status"]["sha256"] == digest
    fetchers = [address for address, path in model_source.requests if path == f"/{gguf.name}"]
    assert fetchers, model_source.requests
    assert all(in_pod_subnet(address) for address in fetchers), model_source.requests
    # The controller deletes a download Job once the model is cached; the Job controller's events remain.
    events = get(real_cluster, namespace, "events")["items"]
    created = [
        e for e in events if e["involvedObject"]["kind"] == "Job" and e["reason"] == "SuccessfulCreate"
    ]
    assert created, [(e["involvedObject"]["kind"], e["reason"]) for e in events]
    claim = get(real_cluster, namespace, f"pvc/{CACHE_CLAIM}")
    assert claim["status"]["phase"] == "Bound"


def test_the_server_pod_runs_with_the_restricted_security_context_on_the_real_node(
    real_cluster: LocalCluster, installed: Path, namespace: str, images: dict[str, str]
) -> None:
    [pod] = serving_pods(real_cluster, namespace)
    name = pod["metadata"]["name"]

    identity = real_cluster.kubectl("exec", "-n", namespace, name, "--", "id").stdout
    write = real_cluster.kubectl("exec", "-n", namespace, name, "--", "touch", "/probe", check=False)
    model = get(real_cluster, namespace, f"model/{NAME}")["status"]["path"]
    model_write = real_cluster.kubectl("exec", "-n", namespace, name, "--", "touch", model, check=False)
    # The download Job's pod wrote the file as the same non-root user.
    owner = real_cluster.kubectl("exec", "-n", namespace, name, "--", "stat", "-c", "%u %s", model).stdout

    assert is_ready(pod)
    assert pod["spec"]["nodeName"] == NODE_NAME
    assert pod["spec"]["containers"][0]["image"] == images["llama-server-cpu"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert "uid=65532" in identity, identity
    assert "gid=65532" in identity, identity
    assert "Read-only file system" in write.stderr, write
    assert "Read-only file system" in model_write.stderr, model_write
    assert owner.split() == ["65532", str(smollm2_gguf().stat().st_size)], owner


def test_llmkube_chat_answers_through_a_port_forward(
    real_cluster: LocalCluster, installed: Path, namespace: str
) -> None:
    answered = llmkube(real_cluster, "chat", NAME, "-n", namespace, "-m", QUESTION, "--max-tokens", "24")

    assert answered.returncode == 0, answered.stderr
    assert "via port-forward to pod/" in answered.stderr, answered.stderr
    assert answered.stdout.strip(), answered


def test_a_client_pod_gets_an_answer_through_the_service_name(
    real_cluster: LocalCluster, installed: Path, namespace: str, images: dict[str, str]
) -> None:
    endpoint = get(real_cluster, namespace, f"inferenceservice/{NAME}")["status"]["endpoint"]

    [reply] = chat(
        real_cluster,
        namespace,
        "chat-client",
        image=images["controller"],
        question=QUESTION,
        bases=[endpoint],
    )

    assert endpoint == f"http://{NAME}.{namespace}.svc.cluster.local:8080/v1"
    assert reply["status"] == 200
    assert reply["content"].strip(), reply


def test_the_gateway_lists_both_pod_served_services_once_both_are_ready(
    real_cluster: LocalCluster, installed: Path, namespace: str
) -> None:
    second_service(real_cluster, namespace, name=SECOND, model=NAME)
    client = gateway_client(real_cluster, SYSTEM_NAMESPACE)

    def both_ready() -> dict[str, dict[str, Any]]:
        # A replica shows in the endpoints a moment before the controller writes the phase.
        models = ready_models(client)
        assert {name: (m["phase"], m["ready_replicas"]) for name, m in models.items()} == {
            NAME: ("Ready", 1),
            SECOND: ("Ready", 1),
        }, models
        return models

    listed = eventually(both_ready, what=f"{NAME} and {SECOND} Ready in the gateway's model list")

    assert {m["namespace"] for m in listed.values()} == {namespace}


def test_the_gateway_sends_each_request_to_the_service_it_names(
    real_cluster: LocalCluster, installed: Path
) -> None:
    client = gateway_client(real_cluster, SYSTEM_NAMESPACE)
    answers = {
        name: client.chat.completions.create(
            model=name, messages=[{"role": "user", "content": QUESTION}], max_tokens=16
        )
        for name in (NAME, SECOND)
    }

    # Each server runs with --alias <service name>: the answer names the pod that wrote it.
    assert {name: answer.model for name, answer in answers.items()} == {NAME: NAME, SECOND: SECOND}
    assert all(answer.choices[0].message.content for answer in answers.values())


def test_a_streamed_answer_comes_through_the_gateway_in_pieces(
    real_cluster: LocalCluster, installed: Path
) -> None:
    client = gateway_client(real_cluster, SYSTEM_NAMESPACE)

    stream = client.chat.completions.create(
        model=SECOND,
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=16,
        stream=True,
    )
    chunks = list(stream)

    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1
    assert {c.model for c in chunks} == {SECOND}


def test_an_unknown_model_gets_a_404_in_openais_shape_from_the_gateway(
    real_cluster: LocalCluster, installed: Path
) -> None:
    client = gateway_client(real_cluster, SYSTEM_NAMESPACE)

    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": QUESTION}]
        )

    error = caught.value.response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "model_not_found",
        "model",
    )
    assert NAME in error["message"]
    assert SECOND in error["message"]


def test_a_deleted_service_leaves_the_gateways_model_list(
    real_cluster: LocalCluster, installed: Path, namespace: str
) -> None:
    real_cluster.kubectl("delete", "-n", namespace, f"inferenceservice/{SECOND}")
    client = gateway_client(real_cluster, SYSTEM_NAMESPACE)

    def gone() -> None:
        models = ready_models(client)
        assert SECOND not in models, models
        left = real_cluster.kubectl("get", "-n", namespace, "pods", "-o", "name").stdout.split()
        assert not [pod for pod in left if SECOND in pod], left

    eventually(gone, what=f"{SECOND} out of the gateway and its pod gone")
    assert list(ready_models(client)) == [NAME]


def test_scaled_to_two_replicas_both_serve(
    real_cluster: LocalCluster, installed: Path, namespace: str, images: dict[str, str]
) -> None:
    real_cluster.kubectl("scale", "-n", namespace, f"inferenceservice/{NAME}", "--replicas=2")

    def two_ready() -> list[dict[str, Any]]:
        pods = [pod for pod in serving_pods(real_cluster, namespace) if is_ready(pod)]
        assert len(pods) == 2, [p["metadata"]["name"] for p in pods]
        isvc = get(real_cluster, namespace, f"inferenceservice/{NAME}")
        assert isvc["status"].get("readyReplicas") == 2, isvc["status"]
        return pods

    pods = eventually(two_ready, what="two Ready replicas")
    bases = [f"http://{pod['status']['podIP']}:8080/v1" for pod in pods]
    replies = chat(
        real_cluster, namespace, "replica-client", image=images["controller"], question=QUESTION, bases=bases
    )

    assert [reply["url"] for reply in replies] == bases
    assert all(reply["status"] == 200 and reply["content"].strip() for reply in replies), replies


def test_deleting_the_service_removes_everything_it_owns_but_the_cache_claim(
    real_cluster: LocalCluster, installed: Path, namespace: str
) -> None:
    deleted = llmkube(real_cluster, "delete", NAME, "-n", namespace)
    assert deleted.returncode == 0, deleted.stderr

    def gone() -> None:
        left = real_cluster.kubectl(
            "get", "-n", namespace, "deployments,services,jobs,pods,endpointslices", "-o", "name"
        ).stdout.split()
        assert left == [], left

    eventually(gone, what="the service's Deployment, Service, Job and pods gone")
    claim = get(real_cluster, namespace, f"pvc/{CACHE_CLAIM}")
    assert claim["metadata"].get("deletionTimestamp") is None


def test_kubectl_delete_k_uninstalls_and_the_cache_claim_survives(
    real_cluster: LocalCluster, installed: Path, namespace: str
) -> None:
    real_cluster.kubectl("delete", "-k", str(installed), "--wait=false")

    def uninstalled() -> None:
        namespaces = real_cluster.kubectl("get", "namespaces", "-o", "name").stdout.split()
        crds = real_cluster.kubectl("get", "crds", "-o", "name").stdout.split()
        assert f"namespace/{SYSTEM_NAMESPACE}" not in namespaces
        assert not [crd for crd in crds if crd.endswith(".inference.llmkube.dev")], crds

    eventually(uninstalled, what="the operator's namespace and CRDs gone")
    claim = get(real_cluster, namespace, f"pvc/{CACHE_CLAIM}")
    assert claim["status"]["phase"] == "Bound"
    assert claim["metadata"].get("deletionTimestamp") is None
