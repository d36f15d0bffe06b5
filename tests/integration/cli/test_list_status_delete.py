"""`llmkube list`, `status` and `delete` against a real apiserver, in all three output formats."""

from __future__ import annotations

import json
import re

import yaml

from hack.localcluster import ClusterBase
from tests.integration.cli.conftest import Cli, get, make_ready, patch_status

MODELS = "models.inference.llmkube.dev"
SERVICES = "inferenceservices.inference.llmkube.dev"


def _event(cluster: ClusterBase, namespace: str, *, name: str, reason: str, message: str) -> None:
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{reason.lower()}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": "inference.llmkube.dev/v1alpha1",
            "kind": "InferenceService",
            "name": name,
            "namespace": namespace,
        },
        "reason": reason,
        "message": message,
        "type": "Normal",
        "count": 3,
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:01:00Z",
        "source": {"component": "llmkube"},
    }
    cluster.kubectl("create", "-f", "-", input_text=json.dumps(event))


def test_list_joins_each_service_with_its_model(cli: Cli, cluster: ClusterBase, namespace: str) -> None:
    assert cli("deploy", "smollm2-135m", "--no-wait").exit_code == 0
    make_ready(cluster, namespace, "smollm2-135m")
    assert cli("deploy", "spare", "--source", "https://example.com/spare.gguf", "--no-wait").exit_code == 0
    cli("delete", "spare", "--keep-model")
    items = cli.json("list")["items"]
    assert [(i["name"], i["model"], i["modelPhase"], i["servicePhase"], i["ready"]) for i in items] == [
        ("smollm2-135m", "smollm2-135m", "Ready", "Ready", "1/1"),
        ("spare", "spare", "Pending", None, None),
    ]
    assert items[0]["endpoint"] == f"http://smollm2-135m.{namespace}.svc.cluster.local:8080/v1"
    assert items[0]["size"] == "95.4 MiB"


def test_list_shows_download_progress(cli: Cli, cluster: ClusterBase, namespace: str) -> None:
    assert cli("deploy", "smollm2-135m", "--no-wait").exit_code == 0
    patch_status(
        cluster, namespace, MODELS, "smollm2-135m",
        {"phase": "Downloading", "progress": {"bytesDone": 25, "bytesTotal": 100}},
    )  # fmt: skip
    assert cli.json("list")["items"][0]["modelPhase"] == "Downloading 25%"


LIST_SNAPSHOT = """\
NAME           MODEL          MODEL PHASE   SIZE       PHASE     READY   ACCELERATOR   ENDPOINT                                                     AGE
───────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────
llama-3.1-8b   llama-3.1-8b   Pending       -          Pending   0/1     nvidia x1     -                                                            <age>
smollm2-135m   smollm2-135m   Ready         95.4 MiB   Ready     1/1     cpu           http://smollm2-135m.cli-xxxxxxxx.svc.cluster.local:8080/v1   <age>
"""


def test_list_table_snapshot(cli: Cli, cluster: ClusterBase, namespace: str) -> None:
    assert cli("deploy", "smollm2-135m", "--no-wait").exit_code == 0
    assert cli("deploy", "llama-3.1-8b", "--gpu", "--no-wait").exit_code == 0
    make_ready(cluster, namespace, "smollm2-135m")
    table = cli("list").stdout.replace(namespace, "cli-xxxxxxxx")  # same width as every test namespace
    table = re.sub(r"\b\d+s *$", "<age>", table, flags=re.MULTILINE)
    assert table == LIST_SNAPSHOT


def test_list_across_namespaces_names_the_namespace(cli: Cli, namespace: str) -> None:
    assert cli("deploy", "smollm2-135m", "--no-wait").exit_code == 0
    items = cli.json("list", "-A", namespaced=False)["items"]
    assert (namespace, "smollm2-135m") in [(i["namespace"], i["name"]) for i in items]
    table = cli("list", "-A", namespaced=False).stdout
    assert table.splitlines()[0].split()[0] == "NAMESPACE"


def test_list_of_an_empty_namespace_says_how_to_start(cli: Cli) -> None:
    result = cli("list")
    assert result.exit_code == 0
    assert "No models or services" in result.stdout
    assert cli.json("list") == {"items": []}


def test_status_json_carries_both_objects_and_recent_events(
    cli: Cli, cluster: ClusterBase, namespace: str
) -> None:
    assert cli("deploy", "smollm2-135m", "--no-wait").exit_code == 0
    make_ready(cluster, namespace, "smollm2-135m")
    _event(cluster, namespace, name="smollm2-135m", reason="Ready", message="serving on 1 replica")
    data = cli.json("status", "smollm2-135m")
    assert data["inferenceService"]["status"]["phase"] == "Ready"
    assert data["model"]["status"]["gguf"]["architecture"] == "llama"
    assert [(e["reason"], e["message"]) for e in data["events"]] == [("Ready", "serving on 1 replica")]
    assert yaml.safe_load(cli("status", "smollm2-135m", "-o", "yaml").stdout) == data


def test_status_table_explains_a_service_waiting_for_gpus(
    cli: Cli, cluster: ClusterBase, namespace: str
) -> None:
    assert cli("deploy", "llama-3.1-8b", "--gpu-count", "2", "--no-wait").exit_code == 0
    patch_status(
        cluster,
        namespace,
        SERVICES,
        "llama-3.1-8b",
        {
            "phase": "WaitingForGPU",
            "gpuCount": 2,
            "tensorSplit": "1,1",
            "scheduling": "0/5 nodes are available: 5 Insufficient nvidia.com/gpu.",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "InsufficientGPU",
                    "message": "no node has 2 free GPUs",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
        },
    )
    out = cli("status", "llama-3.1-8b").stdout
    assert re.search(r"Phase\s+WaitingForGPU", out)
    assert re.search(r"Accelerator\s+nvidia, 2 GPU\(s\) per pod, tensor split 1,1", out)
    assert "Scheduling   0/5 nodes are available: 5 Insufficient nvidia.com/gpu." in out
    assert re.search(r"Ready\s+False\s+InsufficientGPU\s+no node has 2 free GPUs", out)
    assert "hf://bartowski/" in out


def test_status_of_an_unknown_name_suggests_the_nearest(cli: Cli) -> None:
    assert cli("deploy", "smollm2-135m", "--no-wait").exit_code == 0
    result = cli("status", "smollm2-135")
    assert result.exit_code == 1
    assert "did you mean 'smollm2-135m'" in result.stderr


def test_delete_removes_the_service_and_its_model(cli: Cli, cluster: ClusterBase, namespace: str) -> None:
    assert cli("deploy", "smollm2-135m", "--no-wait").exit_code == 0
    result = cli.json("delete", "smollm2-135m")
    assert result == {
        "namespace": namespace,
        "deleted": ["inferenceservice/smollm2-135m", "model/smollm2-135m"],
        "kept": [],
    }
    assert cli.json("list") == {"items": []}


def test_delete_keep_model_leaves_the_model(cli: Cli, cluster: ClusterBase, namespace: str) -> None:
    assert cli("deploy", "smollm2-135m", "--no-wait").exit_code == 0
    result = cli("delete", "smollm2-135m", "--keep-model")
    assert result.stdout.splitlines() == [
        "inferenceservice/smollm2-135m deleted",
        "model/smollm2-135m kept (--keep-model)",
    ]
    assert get(cluster, namespace, MODELS, "smollm2-135m")["metadata"]["name"] == "smollm2-135m"


def test_delete_keeps_a_model_another_service_uses(cli: Cli, cluster: ClusterBase, namespace: str) -> None:
    assert cli("deploy", "smollm2-135m", "--no-wait").exit_code == 0
    other = {
        "apiVersion": "inference.llmkube.dev/v1alpha1",
        "kind": "InferenceService",
        "metadata": {"name": "second", "namespace": namespace},
        "spec": {"modelRef": {"name": "smollm2-135m"}},
    }
    cluster.kubectl("create", "-f", "-", input_text=json.dumps(other))
    result = cli.json("delete", "smollm2-135m")
    assert result["kept"] == [{"object": "model/smollm2-135m", "reason": "still used by second"}]


def test_delete_of_nothing_fails(cli: Cli) -> None:
    result = cli("delete", "ghost")
    assert result.exit_code == 1
    assert "no InferenceService or Model named 'ghost'" in result.stderr
