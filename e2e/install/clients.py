"""Clients that run inside the cluster, as pods on the real node, from the controller image (it has Python).

Each prints one JSON line per URL it asked, with the status and the body, so a test checks what came back rather
than whether a connection opened (a gateway on some machines answers any port-80 request with an empty 200).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hack.localcluster import LocalCluster
from tests.integration.realnode.workloads import logs, pod_manifest, run_to_completion

_GET = """
import json, sys, urllib.request
for url in sys.argv[1:]:
    with urllib.request.urlopen(url, timeout=30) as reply:
        print(json.dumps({"url": url, "status": reply.status, "body": reply.read().decode()}))
"""

_CHAT = """
import json, sys, urllib.request
question = sys.argv[1]
for base in sys.argv[2:]:
    request = urllib.request.Request(
        f"{base}/chat/completions",
        data=json.dumps({"messages": [{"role": "user", "content": question}], "max_tokens": 24}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as reply:
        body = json.load(reply)
        print(json.dumps({"url": base, "status": reply.status, "content": body["choices"][0]["message"]["content"]}))
"""


def _run_python(
    cluster: LocalCluster, namespace: str, name: str, *, image: str, script: str, args: Sequence[str]
) -> list[dict[str, Any]]:
    pod = pod_manifest(
        name,
        image=image,
        command=["python3", "-c", script, *args],
        securityContext={
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        container={
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            }
        },
    )
    finished = run_to_completion(cluster, namespace, pod)
    output = logs(cluster, namespace, name)
    # Gone before the next step, which checks that deleting the service leaves no pod in the namespace.
    cluster.kubectl("delete", "pod", "-n", namespace, name)
    assert finished["status"]["phase"] == "Succeeded", output
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def http_get(
    cluster: LocalCluster, namespace: str, name: str, *, image: str, urls: Sequence[str]
) -> list[dict[str, Any]]:
    """GETs each URL from a pod; one {url, status, body} per URL."""
    return _run_python(cluster, namespace, name, image=image, script=_GET, args=urls)


def chat(
    cluster: LocalCluster, namespace: str, name: str, *, image: str, question: str, bases: Sequence[str]
) -> list[dict[str, Any]]:
    """Asks `question` of each OpenAI-style base URL (…/v1) from a pod; one {url, status, content} per URL."""
    return _run_python(cluster, namespace, name, image=image, script=_CHAT, args=[question, *bases])
