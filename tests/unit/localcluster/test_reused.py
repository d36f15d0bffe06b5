"""A reused cluster (LLMKUBE_TEST_KUBECONFIG) reads the kubeconfig another process wrote, keeps copies of inline
credentials only while it is open, and never stops or calls the cluster it did not start."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hack.localcluster.__main__ import main
from hack.localcluster.inventory import DEFAULT_NODES, DEFAULT_VOLUME_POOL, STORAGE_CLASS
from hack.localcluster.rest import Response, RestClient
from hack.localcluster.reused import ReusedCluster

CA, CERT, KEY = b"-----CA-----\n", b"-----CLIENT CERT-----\n", b"-----CLIENT KEY-----\n"


@pytest.fixture
def scratch_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the cluster's scratch directory is made, so a test sees exactly the directories it left."""
    parent = tmp_path / "tmp"
    parent.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(parent))
    return parent


@pytest.fixture
def no_api_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a reused cluster called the API server")

    monkeypatch.setattr(RestClient, "request", refuse)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _kubeconfig(path: Path, *, cluster: dict[str, Any], user: dict[str, Any]) -> Path:
    """Two contexts, the second current, as kind leaves a kubeconfig it shares with other clusters."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "other", "cluster": {"server": "https://other.invalid:6443"}},
            {"name": "kind-llmkube", "cluster": cluster},
        ],
        "users": [
            {"name": "other", "user": {"token": "not-ours"}},
            {"name": "kind-llmkube", "user": user},
        ],
        "contexts": [
            {"name": "other", "context": {"cluster": "other", "user": "other"}},
            {"name": "kind-llmkube", "context": {"cluster": "kind-llmkube", "user": "kind-llmkube"}},
        ],
        "current-context": "kind-llmkube",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _inline(tmp_path: Path) -> Path:
    return _kubeconfig(
        tmp_path / "kind.kubeconfig",
        cluster={"server": "https://127.0.0.1:39443", "certificate-authority-data": _b64(CA)},
        user={"client-certificate-data": _b64(CERT), "client-key-data": _b64(KEY)},
    )


def test_inline_credentials_of_the_current_context_are_decoded_into_private_files(
    tmp_path: Path, scratch_parent: Path
) -> None:
    kubeconfig = _inline(tmp_path)

    cluster = ReusedCluster(kubeconfig)
    try:
        assert cluster.server == "https://127.0.0.1:39443"
        assert cluster.kubeconfig == kubeconfig
        admin = cluster._admin
        assert admin.server == cluster.server
        assert admin.ca is not None
        assert admin.client is not None
        copies = {admin.ca: CA, admin.client.cert: CERT, admin.client.key: KEY}
        for path, content in copies.items():
            assert path.parent.parent == scratch_parent
            assert path.read_bytes() == content
            assert path.stat().st_mode & 0o777 == 0o600
    finally:
        cluster.close()


def test_close_removes_the_scratch_directory_and_leaves_the_cluster_alone(
    tmp_path: Path, scratch_parent: Path, no_api_calls: None
) -> None:
    kubeconfig = _inline(tmp_path)
    written = kubeconfig.read_bytes()
    cluster = ReusedCluster(kubeconfig)
    assert len(list(scratch_parent.iterdir())) == 1

    cluster.close()

    assert list(scratch_parent.iterdir()) == []
    assert kubeconfig.read_bytes() == written  # the credentials other shells use are untouched


def test_credential_paths_are_used_in_place_relative_to_the_kubeconfig(
    tmp_path: Path, scratch_parent: Path, no_api_calls: None
) -> None:
    (tmp_path / "pki").mkdir()
    for name, content in (("ca.crt", CA), ("admin.crt", CERT), ("admin.key", KEY)):
        (tmp_path / "pki" / name).write_bytes(content)
    kubeconfig = _kubeconfig(
        tmp_path / "admin.kubeconfig",
        cluster={"server": "https://127.0.0.1:40443", "certificate-authority": "pki/ca.crt"},
        user={"client-certificate": str(tmp_path / "pki" / "admin.crt"), "client-key": "pki/admin.key"},
    )

    cluster = ReusedCluster(kubeconfig)
    admin = cluster._admin
    cluster.close()

    assert admin.ca == tmp_path / "pki" / "ca.crt"
    assert admin.client is not None
    assert (admin.client.cert, admin.client.key) == (
        tmp_path / "pki" / "admin.crt",
        tmp_path / "pki" / "admin.key",
    )
    assert all(path.read_bytes() for path in (admin.ca, admin.client.cert, admin.client.key))  # not removed


def test_a_kubeconfig_without_a_client_certificate_is_refused_without_leaving_a_scratch_directory(
    tmp_path: Path, scratch_parent: Path
) -> None:
    kubeconfig = _kubeconfig(
        tmp_path / "token.kubeconfig",
        cluster={"server": "https://127.0.0.1:41443", "certificate-authority-data": _b64(CA)},
        user={"token": "abc"},
    )

    with pytest.raises(ValueError, match="only client-certificate credentials"):
        ReusedCluster(kubeconfig)

    assert list(scratch_parent.iterdir()) == []


def test_the_nodes_command_gives_a_kind_cluster_the_storage_class_volume_pool_and_nodes(
    tmp_path: Path, scratch_parent: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # kind's own default class provisions only for pods that really run, which pods on kwok's nodes never do.
    created: dict[str, list[dict[str, Any]]] = {}

    def fake_api(
        client: RestClient, method: str, path: str, *, body: Any = None, content_type: str = ""
    ) -> Response:
        if method == "POST":
            created.setdefault(path, []).append(body)
            return Response(status=201, body=b"{}")
        assert (method, path) == ("GET", "/api/v1/nodes")
        ready = {"conditions": [{"type": "Ready", "status": "True"}]}
        nodes = [{**node, "status": ready} for node in created.get(path, [])]
        return Response(status=200, body=json.dumps({"items": nodes}).encode())

    monkeypatch.setattr(RestClient, "request", fake_api)

    assert main(["nodes", "--kubeconfig", str(_inline(tmp_path))]) == 0

    [storage_class] = created["/apis/storage.k8s.io/v1/storageclasses"]
    assert storage_class["metadata"]["name"] == STORAGE_CLASS
    assert storage_class["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    volumes = created["/api/v1/persistentvolumes"]
    assert len(volumes) == sum(count for _, count in DEFAULT_VOLUME_POOL)
    assert {v["spec"]["storageClassName"] for v in volumes} == {STORAGE_CLASS}
    assert {n["metadata"]["name"] for n in created["/api/v1/nodes"]} == {n.name for n in DEFAULT_NODES}
    assert list(scratch_parent.iterdir()) == []  # the command closes the handle it opened
