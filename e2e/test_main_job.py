"""The README's main job, run as a user runs it, non-interactively: a real answer, real facts, nothing left behind.

`make demo` runs LLMKube in pods on the local cluster's real node (it starts its own, so these tests ask for
`real_node_free`); `make demo ARGS=--host` is the demo of `accelerator: host` on fake nodes.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from hack.llama import smollm2_gguf
from hack.localcluster.nodeconfig import NODE_NAME, POD_SUBNET

#: A demo waits for any other real node on the machine to stop first (a machine-wide lock) before it starts.
pytestmark = pytest.mark.timeout(1800)

REPO = Path(__file__).resolve().parent.parent
QUESTION = "Say hello in five words."
STEPS = (
    "cluster up",
    "images loaded",
    "install ready",
    "download done",
    "model Ready",
    "first answer",
    "total",
)


def run_demo(out: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "hack.demo", "--summary", str(out), "--question", QUESTION, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env=_without_reuse(),
    )
    assert done.returncode == 0, f"demo failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    parsed: dict[str, Any] = json.loads(out.read_text())
    return parsed


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory, real_node_free: None) -> dict[str, Any]:
    return run_demo(tmp_path_factory.mktemp("demo") / "summary.json")


@pytest.fixture(scope="module")
def host_summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_demo(tmp_path_factory.mktemp("demo-host") / "summary.json", "--host")


def _without_reuse() -> dict[str, str]:
    """The main job starts its own cluster, as it does for a newcomer."""
    return {k: v for k, v in os.environ.items() if k != "LLMKUBE_TEST_KUBECONFIG"}


def in_pod_subnet(address: str) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(POD_SUBNET)


def test_the_controller_ran_in_a_pod_on_the_real_node_as_its_service_account(summary: dict[str, Any]) -> None:
    [controller] = summary["controllerPods"]
    assert controller["node"] == NODE_NAME
    assert controller["serviceAccount"] == "llmkube-controller-manager"
    assert controller["image"].startswith("localhost/llmkube/controller:")


def test_the_model_was_downloaded_by_a_pod_and_served_from_a_pod(summary: dict[str, Any]) -> None:
    assert summary["fetchedBy"], "nobody fetched the model file"
    assert all(in_pod_subnet(address) for address in summary["fetchedBy"]), summary["fetchedBy"]
    [server] = summary["servingPods"]
    assert server["node"] == NODE_NAME
    assert server["image"].startswith("localhost/llmkube/llama-server-cpu:")
    assert in_pod_subnet(server["podIP"])
    assert server["securityContext"]["runAsNonRoot"] is True


def test_answers_came_through_a_port_forward_the_service_and_the_gateway(summary: dict[str, Any]) -> None:
    assert summary["answer"].strip()
    route = summary["route"]
    assert route is not None, "llmkube chat did not say how it reached the server"
    assert route["via"].startswith(f"port-forward to pod/{summary['servingPods'][0]['name']}:"), route
    # The Service's ClusterIP, reached through kube-proxy's rules; the body is checked, not just the status.
    service = summary["serviceAnswer"]
    assert ipaddress.ip_address(urlsplit(service["url"]).hostname or "") in ipaddress.ip_network(
        "10.96.0.0/12"
    )
    assert service["answer"].strip()
    gateway = summary["gateway"]
    assert urlsplit(gateway["url"]).path == "/v1"
    assert gateway["answer"].strip()


def test_each_step_is_timed_in_order(summary: dict[str, Any]) -> None:
    steps = summary["steps"]
    # The controller may start the download before its readiness probe passes: those two come in either order.
    assert set(steps) == set(STEPS)
    assert list(steps.values()) == sorted(steps.values())
    order = ("cluster up", "images loaded", "download done", "model Ready", "first answer", "total")
    assert [steps[step] for step in order] == sorted(steps[step] for step in order)
    assert steps["images loaded"] <= steps["install ready"] <= steps["total"]


def test_the_model_status_carries_the_real_digest_and_gguf_facts(summary: dict[str, Any]) -> None:
    model = summary["model"]
    assert model["phase"] == "Ready"
    assert model["sha256"] == hashlib.sha256(smollm2_gguf().read_bytes()).hexdigest()
    assert model["gguf"]["architecture"] == "llama"
    assert model["gguf"]["parameterCount"] > 100_000_000
    assert model["gguf"]["quantization"] == "Q4_1"


def test_the_inference_service_is_ready_with_its_endpoint(summary: dict[str, Any]) -> None:
    service = summary["service"]
    assert service["phase"] == "Ready"
    assert service["endpoint"] == "http://smollm2-135m.llmkube-demo.svc.cluster.local:8080/v1"
    ready = next(c for c in service["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"


def test_teardown_leaves_no_processes(summary: dict[str, Any]) -> None:
    assert _processes_mentioning(summary["workdir"], str(Path(summary["kubeconfig"]).parent)) == []


def test_the_host_demo_answers_through_the_agents_endpoint_slice(host_summary: dict[str, Any]) -> None:
    """`--host`: the host agent's llama-server, reached through the Service's EndpointSlice, and the gateway."""
    assert host_summary["answer"].strip()
    route = host_summary["route"]
    assert route is not None, "llmkube chat did not say how it reached the server"
    assert route["via"].startswith("EndpointSlice "), route
    slices = {s["name"]: s for s in host_summary["endpointSlices"]}
    used = slices[route["via"].removeprefix("EndpointSlice ")]
    assert used["labels"]["kubernetes.io/service-name"] == host_summary["kubernetesService"]
    assert used["annotations"]["inference.llmkube.dev/address"] == "127.0.0.1"
    assert [e["conditions"]["ready"] for e in used["endpoints"]] == [True]
    reached = urlsplit(route["url"])
    assert reached.hostname == "127.0.0.1"
    assert reached.port in [p["port"] for p in used["ports"]]
    assert host_summary["gateway"]["answer"].strip()
    assert host_summary["model"]["phase"] == "Ready"
    assert _processes_mentioning(host_summary["workdir"], str(Path(host_summary["kubeconfig"]).parent)) == []


def test_ctrl_c_tears_down_a_kept_demo(real_node_free: None) -> None:
    """`make demo ARGS=--keep` runs until Ctrl-C, then stops everything it started."""
    demo = subprocess.Popen(
        [sys.executable, "-m", "hack.demo", "--keep", "--question", "Say hi."],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_without_reuse(),
    )
    assert demo.stdout is not None
    seen: list[str] = []
    markers: list[str] = []
    try:
        for line in demo.stdout:
            seen.append(line)
            if "working directory: " in line:
                markers.append(line.split("working directory: ", 1)[1].strip())
            if "export KUBECONFIG=" in line:
                markers.append(str(Path(line.split("=", 1)[1].strip()).parent))
            if "everything keeps running" in line:
                break
        else:
            pytest.fail("the demo ended before it was kept running:\n" + "".join(seen[-40:]))
        assert len(markers) == 2, seen
        assert _processes_mentioning(*markers) != []  # it is serving now
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=180)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 130, rest[-4000:]
    assert "everything was stopped" in rest
    assert _processes_mentioning(*markers) == []


def _processes_mentioning(*markers: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(marker in text for marker in markers):
            found.append(text)
    return found
