"""Image names are reported as containerd stores them and the kubelet looks them up."""

from __future__ import annotations

import pytest

from hack.localcluster.realnode import normalized_reference


@pytest.mark.parametrize(
    ("declared", "stored"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("llmkube-controller:dev", "docker.io/library/llmkube-controller:dev"),
        ("someone/tool:2", "docker.io/someone/tool:2"),
        ("localhost/llmkube/pause:abc", "localhost/llmkube/pause:abc"),
        ("ghcr.io/org/image:1.0", "ghcr.io/org/image:1.0"),
        ("localhost:5000/image", "localhost:5000/image:latest"),
        ("registry.example/image@sha256:0123", "registry.example/image@sha256:0123"),
    ],
)
def test_a_declared_name_is_spelt_out_with_registry_and_tag(declared: str, stored: str) -> None:
    assert normalized_reference(declared) == stored
