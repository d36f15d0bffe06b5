"""The README's main job, run as a user runs it, non-interactively: a real answer, real facts, nothing left behind."""

from __future__ import annotations

import hashlib
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

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("demo") / "summary.json"
    done = subprocess.run(
        [sys.executable, "-m", "hack.demo", "--summary", str(out), "--question", "Say hello in five words."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env=_without_reuse(),
    )
    assert done.returncode == 0, f"demo failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    parsed: dict[str, Any] = json.loads(out.read_text())
    return parsed


def _without_reuse() -> dict[str, str]:
    """The main job starts its own cluster, as it does for a newcomer."""
    return {k: v for k, v in os.environ.items() if k != "LLMKUBE_TEST_KUBECONFIG"}


def test_a_real_completion_came_back_through_the_service(summary: dict[str, Any]) -> None:
    assert summary["answer"].strip()
    # `llmkube chat` reports on stderr which route it took; the demo records it with the Service's slices.
    route = summary["route"]
    assert route is not None, "llmkube chat did not say how it reached the server"
    service = urlsplit(summary["service"]["endpoint"]).hostname
    assert service is not None
    assert summary["kubernetesService"] == service.split(".")[0]
    assert route["via"].startswith("EndpointSlice "), route
    slices = {s["name"]: s for s in summary["endpointSlices"]}
    used = slices[route["via"].removeprefix("EndpointSlice ")]
    assert used["labels"]["kubernetes.io/service-name"] == summary["kubernetesService"]
    assert used["annotations"]["inference.llmkube.dev/address"] == "127.0.0.1"
    assert [e["conditions"]["ready"] for e in used["endpoints"]] == [True]
    reached = urlsplit(route["url"])
    assert reached.hostname == "127.0.0.1"
    assert reached.port in [p["port"] for p in used["ports"]]


def test_the_gateway_answered_too_and_its_url_is_reported(summary: dict[str, Any]) -> None:
    gateway = summary["gateway"]
    assert gateway["answer"].strip()
    assert urlsplit(gateway["url"]).path == "/v1"


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
    assert service["endpoint"].endswith("/v1")
    ready = next(c for c in service["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"


def test_teardown_leaves_no_processes(summary: dict[str, Any]) -> None:
    assert _processes_mentioning(summary["workdir"], str(Path(summary["kubeconfig"]).parent)) == []


def test_ctrl_c_tears_down_a_kept_demo() -> None:
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
        rest, _ = demo.communicate(timeout=120)
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
