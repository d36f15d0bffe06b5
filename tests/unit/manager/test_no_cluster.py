"""Started where there is no cluster (a container run by hand, a pod without its ServiceAccount), the manager
says so in one line and exits 1, instead of a traceback about an "invalid kube-config file"."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.__main__ import main
from controller.kube import ConfigUnavailable, KubeClient


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return tmp_path


async def test_connecting_without_a_kubeconfig_names_the_file_and_the_pod_alternative(nowhere: Path) -> None:
    with pytest.raises(ConfigUnavailable) as raised:
        async with KubeClient.connect():
            pass
    assert str(nowhere / ".kube" / "config") in raised.value.message
    assert "KUBERNETES_SERVICE_HOST" in raised.value.message


async def test_an_explicit_kubeconfig_that_does_not_exist_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "cluster.yaml"
    with pytest.raises(ConfigUnavailable, match=str(missing)):
        async with KubeClient.connect(kubeconfig=missing):
            pass


@pytest.mark.usefixtures("nowhere")
def test_the_manager_exits_1_with_one_error_line_when_no_cluster_is_configured(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--log-format", "json"]) == 1
    output = capsys.readouterr()
    assert "Traceback" not in output.out + output.err
    assert "no cluster to connect to" in output.out + output.err
