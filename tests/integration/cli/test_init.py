"""`llmkube init` against the local control plane: install, wait for Ready, run again to no effect, and fail in
one line when the cluster turns our credentials away.

Stand-in: the local cluster has no kubelet. kwok plays the kubelet for its fake nodes and marks the controller's
pod Running and Ready without running the image, so the Deployment reports Ready through the same status path a
real node drives; that the controller program itself starts is the controller suite's business.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from hack.localcluster import ClusterBase
from llmkube.bundle import CONTROLLER_DEPLOYMENT, CONTROLLER_NAMESPACE, controller_image, operator_objects
from llmkube.cli.main import app
from llmkube.cli.operator_install import INIT_MANAGER

runner = CliRunner()


def init(kubeconfig: Path, *args: str) -> Result:
    return runner.invoke(app, ["init", "--kubeconfig", str(kubeconfig), *args], catch_exceptions=False)


def without_crds() -> list[dict[str, Any]]:
    """The bundle but its CRDs, which the rest of the session's tests share and keep."""
    return [obj for obj in operator_objects() if obj["kind"] != "CustomResourceDefinition"]


def remove_operator(cluster: ClusterBase) -> None:
    listing = json.dumps({"apiVersion": "v1", "kind": "List", "items": without_crds()})
    cluster.kubectl(
        "delete", "--ignore-not-found", "--wait=true", "--timeout=120s", "-f", "-", input_text=listing
    )


@pytest.fixture
def bare(cluster: ClusterBase) -> Iterator[ClusterBase]:
    """The cluster without the operator (another test may have applied config/default), and again after."""
    remove_operator(cluster)
    yield cluster
    remove_operator(cluster)


def live(cluster: ClusterBase, obj: dict[str, Any]) -> dict[str, Any]:
    scope = ["-n", obj["metadata"]["namespace"]] if obj["metadata"].get("namespace") else []
    kind = (
        f"{obj['kind'].lower()}.{obj['apiVersion'].split('/')[0]}"
        if "/" in obj["apiVersion"]
        else obj["kind"]
    )
    result = cluster.kubectl(
        "get", *scope, kind, obj["metadata"]["name"], "-o", "json", "--show-managed-fields"
    )
    return dict(json.loads(result.stdout))


def init_fingerprint(obj: dict[str, Any]) -> tuple[Any, ...]:
    """What a write by init would move: the spec generation and init's own managed-fields entries."""
    entries = [m for m in obj["metadata"]["managedFields"] if m["manager"] == INIT_MANAGER]
    assert entries, obj["metadata"]["name"]
    return (obj["metadata"].get("generation"), json.dumps(entries, sort_keys=True))


def test_init_installs_the_operator_and_waits_until_it_is_ready(bare: ClusterBase) -> None:
    result = init(bare.kubeconfig, "--timeout", "180")
    assert result.exit_code == 0, result.output
    assert "Installing LLMKube" in result.stdout
    assert f"applied deployment/{CONTROLLER_NAMESPACE}/{CONTROLLER_DEPLOYMENT}" in result.stdout
    deployment = live(bare, next(o for o in operator_objects() if o["kind"] == "Deployment"))
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == controller_image()
    assert deployment["status"]["availableReplicas"] == 1
    for obj in operator_objects():
        live(bare, obj)  # every bundled object exists
    assert "PROBLEM" not in result.stdout


def test_a_second_init_changes_nothing(bare: ClusterBase) -> None:
    assert init(bare.kubeconfig, "--timeout", "180").exit_code == 0
    before = {json.dumps(o["metadata"]): init_fingerprint(live(bare, o)) for o in operator_objects()}
    again = init(bare.kubeconfig, "--timeout", "180")
    assert again.exit_code == 0, again.output
    assert "Re-applying LLMKube" in again.stdout
    assert "every object already up to date" in again.stdout
    after = {json.dumps(o["metadata"]): init_fingerprint(live(bare, o)) for o in operator_objects()}
    assert after == before


def test_init_reports_the_cluster_it_found(bare: ClusterBase) -> None:
    result = runner.invoke(
        app, ["init", "--kubeconfig", str(bare.kubeconfig), "--no-wait"], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "reachable, version v1." in lines["Kubernetes"]
    assert "gpu-node-1 (8 x NVIDIA, NVIDIA-H100-80GB-HBM3, 79 GiB each)" in result.stdout
    assert "Prometheus" in lines


def test_init_with_credentials_the_cluster_rejects_ends_in_one_line(
    cluster: ClusterBase, tmp_path: Path
) -> None:
    admin = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])["context"]
    cluster_entry = next(c for c in admin["clusters"] if c["name"] == context["cluster"])
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster_entry],
        "users": [{"name": "stranger", "user": {"token": "not-a-token-this-cluster-issued"}}],
        "contexts": [{"name": "stranger", "context": {"cluster": cluster_entry["name"], "user": "stranger"}}],
        "current-context": "stranger",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    result = init(path)
    assert result.exit_code == 1
    assert (
        result.stderr == "error: the cluster rejected our credentials (401): refresh your kubeconfig login\n"
    )
    assert result.stdout == ""
