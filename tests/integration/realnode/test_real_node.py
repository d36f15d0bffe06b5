"""The local cluster's real node runs pods as any cluster does: containers really run and exit, Services route
to them, cluster DNS resolves Service names, in-cluster credentials reach the API under RBAC, and kubectl logs,
exec and port-forward reach the container. Images come from archives; no registry is involved."""

from __future__ import annotations

import re
import secrets
import subprocess
import urllib.request
from collections.abc import Iterator

import pytest

from hack.localcluster import LocalCluster, kubectl_binary
from hack.localcluster.images import busybox_image
from hack.localcluster.nodeconfig import NODE_NAME
from tests.integration.realnode.workloads import (
    apply,
    get,
    http_get_command,
    logs,
    pod_manifest,
    run_to_completion,
    scratch_namespace,
    service_manifest,
    wait_for,
    web_server,
)


@pytest.fixture(scope="module")
def busybox(real_cluster: LocalCluster) -> str:
    [name] = real_cluster.load_image(busybox_image().path)
    return name


@pytest.fixture
def namespace(real_cluster: LocalCluster) -> Iterator[str]:
    with scratch_namespace(real_cluster) as name:
        yield name


def test_a_pod_runs_its_container_on_the_real_node_and_ends_with_the_containers_exit_code(
    real_cluster: LocalCluster, namespace: str, busybox: str
) -> None:
    pod = run_to_completion(
        real_cluster,
        namespace,
        pod_manifest("exits", image=busybox, command=["sh", "-c", "echo running as $(hostname); exit 3"]),
    )

    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert pod["spec"]["nodeName"] == NODE_NAME
    assert pod["status"]["phase"] == "Failed"
    assert terminated["exitCode"] == 3
    assert logs(real_cluster, namespace, "exits").strip() == "running as exits"


def test_a_service_cluster_ip_routes_to_a_real_pod(
    real_cluster: LocalCluster, namespace: str, busybox: str
) -> None:
    body = f"served-{secrets.token_hex(6)}"
    apply(
        real_cluster,
        namespace,
        web_server("web", image=busybox, body=body, labels={"app": "web"}),
        service_manifest("web", selector={"app": "web"}),
    )
    wait_for(real_cluster, namespace, "pod/web", "condition=Ready")
    cluster_ip = get(real_cluster, namespace, "service/web")["spec"]["clusterIP"]

    run_to_completion(
        real_cluster, namespace, pod_manifest("client", image=busybox, command=http_get_command(cluster_ip))
    )

    assert body in logs(real_cluster, namespace, "client")


def test_pods_resolve_the_kubernetes_service_and_other_services_by_name(
    real_cluster: LocalCluster, namespace: str, busybox: str
) -> None:
    body = f"named-{secrets.token_hex(6)}"
    apply(
        real_cluster,
        namespace,
        web_server("named", image=busybox, body=body, labels={"app": "named"}),
        service_manifest("named", selector={"app": "named"}),
    )
    wait_for(real_cluster, namespace, "pod/named", "condition=Ready")
    cluster_ip = get(real_cluster, namespace, "service/named")["spec"]["clusterIP"]
    lookups = "nslookup kubernetes.default.svc.cluster.local && nslookup named.$NS.svc.cluster.local"
    fetch = " ".join(http_get_command("named")[2:])  # the short name, through the pod's search path

    run_to_completion(
        real_cluster,
        namespace,
        pod_manifest(
            "resolver",
            image=busybox,
            command=["sh", "-c", f"{lookups} && {fetch}"],
            container={"env": [{"name": "NS", "value": namespace}]},
        ),
    )

    output = logs(real_cluster, namespace, "resolver")
    assert re.search(r"Address:\s*10\.96\.0\.1\b", output), output
    assert re.search(rf"Address:\s*{re.escape(cluster_ip)}\b", output), output
    assert body in output


# The in-cluster client is the host's own Python (mounted read-only into the busybox image): it reads the
# ServiceAccount token and CA that the kubelet projects, and finds the API server through the environment
# variables every pod gets, as any in-cluster client library does.
IN_CLUSTER_CLIENT = """
import json, os, ssl, urllib.error, urllib.request
account = "/var/run/secrets/kubernetes.io/serviceaccount"
token = open(f"{account}/token").read()
namespace = open(f"{account}/namespace").read()
context = ssl.create_default_context(cafile=f"{account}/ca.crt")
base = f"https://{os.environ['KUBERNETES_SERVICE_HOST']}:{os.environ['KUBERNETES_SERVICE_PORT']}"
for resource in ("configmaps", "secrets"):
    request = urllib.request.Request(
        f"{base}/api/v1/namespaces/{namespace}/{resource}", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as reply:
            names = [item["metadata"]["name"] for item in json.load(reply)["items"]]
            print(resource, reply.status, " ".join(names))
    except urllib.error.HTTPError as error:
        print(resource, error.code)
"""


def test_a_pod_reaches_the_api_with_its_service_account_and_gets_only_what_its_role_grants(
    real_cluster: LocalCluster, namespace: str, busybox: str
) -> None:
    marker = f"visible-{secrets.token_hex(4)}"
    real_cluster.kubectl("create", "serviceaccount", "reader", "-n", namespace)
    real_cluster.kubectl("create", "configmap", marker, "-n", namespace, "--from-literal=a=b")
    real_cluster.kubectl(
        "create", "role", "configmap-reader", "-n", namespace, "--verb=list", "--resource=configmaps"
    )
    real_cluster.kubectl(
        "create",
        "rolebinding",
        "reader",
        "-n",
        namespace,
        "--role=configmap-reader",
        f"--serviceaccount={namespace}:reader",
    )
    host_dirs = ("/usr", "/lib", "/lib64")
    pod = pod_manifest(
        "in-cluster",
        image=busybox,
        command=["/usr/bin/python3", "-c", IN_CLUSTER_CLIENT],
        serviceAccountName="reader",
        volumes=[
            {"name": path.strip("/"), "hostPath": {"path": path, "type": "Directory"}} for path in host_dirs
        ],
        container={
            "volumeMounts": [
                {"name": path.strip("/"), "mountPath": path, "readOnly": True} for path in host_dirs
            ]
        },
    )

    finished = run_to_completion(real_cluster, namespace, pod)

    output = logs(real_cluster, namespace, "in-cluster")
    assert finished["status"]["phase"] == "Succeeded", output
    assert re.search(rf"^configmaps 200 .*\b{marker}\b", output, re.MULTILINE), output
    assert re.search(r"^secrets 403$", output, re.MULTILINE), output


def test_kubectl_logs_exec_and_port_forward_reach_the_real_container(
    real_cluster: LocalCluster, namespace: str, busybox: str
) -> None:
    body = f"forwarded-{secrets.token_hex(6)}"
    apply(real_cluster, namespace, web_server("target", image=busybox, body=body, labels={"app": "target"}))
    wait_for(real_cluster, namespace, "pod/target", "condition=Ready")

    executed = real_cluster.kubectl("exec", "-n", namespace, "target", "--", "cat", "/www/index.html").stdout
    forwarded = _fetch_through_port_forward(real_cluster, namespace, "target")
    real_cluster.kubectl(
        "exec", "-n", namespace, "target", "--", "sh", "-c", f"echo {body}-log > /proc/1/fd/1"
    )
    logged = logs(real_cluster, namespace, "target")

    assert executed.strip() == body
    assert body in forwarded
    assert f"{body}-log" in logged


def test_an_imported_image_runs_without_a_registry_and_importing_it_again_changes_nothing(
    real_cluster: LocalCluster, namespace: str, busybox: str
) -> None:
    again = real_cluster.load_image(busybox_image().path)

    pod = run_to_completion(
        real_cluster,
        namespace,
        pod_manifest("if-not-present", image=busybox, pull_policy="IfNotPresent", command=["true"]),
    )

    assert again == [busybox]
    assert real_cluster.node is not None
    assert busybox in real_cluster.node.images()
    assert pod["status"]["phase"] == "Succeeded"


def _fetch_through_port_forward(cluster: LocalCluster, namespace: str, pod: str) -> str:
    forward = subprocess.Popen(
        [
            str(kubectl_binary()),
            f"--kubeconfig={cluster.kubeconfig}",
            "port-forward",
            "-n",
            namespace,
            f"pod/{pod}",
            ":8080",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert forward.stdout is not None
        line = forward.stdout.readline()  # "Forwarding from 127.0.0.1:PORT -> 8080"
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, f"kubectl port-forward said {line!r}"
        with urllib.request.urlopen(f"http://127.0.0.1:{match.group(1)}/", timeout=30) as reply:
            return str(reply.read().decode())
    finally:
        forward.terminate()
        forward.wait(timeout=30)
