"""Fixtures for the CLI against the local control plane: CRDs, a namespace per test, and the CLI itself.

No controller runs: tests create objects with the CLI and write statuses by hand (as the reconcilers would),
which keeps every test about the CLI's own behaviour.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hack.localcluster import ClusterBase
from llmkube.cli.main import app
from tests.integration.namespaces import kubectl_label_args

LLMKUBE = str(Path(sys.executable).parent / "llmkube")


@pytest.fixture(scope="session")
def cluster(local_cluster: ClusterBase) -> ClusterBase:
    """The local cluster with the LLMKube CRDs established."""
    local_cluster.install_crds()
    return local_cluster


@pytest.fixture
def namespace(cluster: ClusterBase) -> Iterator[str]:
    name = f"cli-{secrets.token_hex(4)}"
    cluster.kubectl("create", "namespace", name)
    cluster.kubectl(*kubectl_label_args(name))
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false")


class Cli:
    """Runs `llmkube` in-process (typer's runner) against the test cluster and namespace."""

    def __init__(self, *, kubeconfig: Path, namespace: str) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self._runner = CliRunner()

    def __call__(self, *args: str, namespaced: bool = True) -> Any:
        scope = ["--namespace", self.namespace] if namespaced else []
        return self._runner.invoke(
            app, [*args, "--kubeconfig", str(self.kubeconfig), *scope], catch_exceptions=False
        )

    def json(self, *args: str, namespaced: bool = True) -> Any:
        result = self(*args, "-o", "json", namespaced=namespaced)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def subprocess(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """The installed program, for what in-process runs cannot show (tracebacks, real exit paths)."""
        return subprocess.run(
            [LLMKUBE, *args, "--kubeconfig", str(self.kubeconfig), "--namespace", self.namespace],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def cli(cluster: ClusterBase, namespace: str) -> Cli:
    return Cli(kubeconfig=Path(cluster.kubeconfig), namespace=namespace)


def get(cluster: ClusterBase, namespace: str, kind: str, name: str) -> dict[str, Any]:
    result = cluster.kubectl("get", "-n", namespace, kind, name, "-o", "json")
    return dict(json.loads(result.stdout))


def patch_status(cluster: ClusterBase, namespace: str, kind: str, name: str, status: dict[str, Any]) -> None:
    """Writes status as the controller would (kubectl's status subresource patch)."""
    cluster.kubectl(
        "patch",
        "-n",
        namespace,
        kind,
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


def condition(type_: str, status: str, reason: str, message: str = "") -> dict[str, str]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }


def make_ready(cluster: ClusterBase, namespace: str, name: str, *, endpoint_port: int = 8080) -> None:
    """The statuses the two reconcilers write once the model is cached and the service serves."""
    patch_status(
        cluster,
        namespace,
        "models.inference.llmkube.dev",
        name,
        {
            "phase": "Ready",
            "sizeBytes": 100_000_000,
            "size": "95.4 MiB",
            "conditions": [condition("Ready", "True", "Cached", "model is cached")],
            "gguf": {
                "architecture": "llama",
                "parameterCount": 134_515_008,
                "contextLength": 8192,
                "blockCount": 30,
            },
        },
    )
    generation = get(cluster, namespace, "inferenceservices.inference.llmkube.dev", name)["metadata"][
        "generation"
    ]
    patch_status(
        cluster,
        namespace,
        "inferenceservices.inference.llmkube.dev",
        name,
        {
            "phase": "Ready",
            "observedGeneration": generation,
            "replicas": 1,
            "readyReplicas": 1,
            "endpoint": f"http://{name.replace('.', '-')}.{namespace}.svc.cluster.local:{endpoint_port}/v1",
            "conditions": [condition("Ready", "True", "Serving", "1/1 replicas ready")],
        },
    )
