"""The pause image does what a pod sandbox needs on a node of ours: it starts from one static file under a
read-only root as a non-root user, keeps running, and exits 0 when the runtime stops the pod with SIGTERM (a
SIGKILL after the grace period would read 137)."""

from __future__ import annotations

import json
import secrets
import tarfile

import pytest

from controller.builders.security import NONROOT_ID
from hack.images import BuiltImage
from hack.images.podman import Podman

pytestmark = [pytest.mark.containers, pytest.mark.xdist_group("containers"), pytest.mark.timeout(3600)]

#: The runtime's stop timeout: far above the instant a SIGTERM handler takes, so a kill means it was ignored.
STOP_GRACE_S = 30


@pytest.fixture
def pause(pause_images: dict[str, BuiltImage]) -> BuiltImage:
    return pause_images["pause"]


def test_the_pause_image_is_one_static_file(pause: BuiltImage) -> None:
    with tarfile.open(pause.archive) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        (layer_name,) = manifest[0]["Layers"]
        layer_file = archive.extractfile(layer_name)
        assert layer_file is not None
        with tarfile.open(fileobj=layer_file) as layer:
            files = [member.name.lstrip("./") for member in layer.getmembers() if not member.isdir()]
    assert files == ["pause"]


def test_the_pause_container_runs_until_stopped_and_exits_cleanly_on_sigterm(
    podman: Podman, pause: BuiltImage
) -> None:
    name = f"pause-{secrets.token_hex(4)}"
    podman(
        "run", "--detach", "--name", name, "--network", "none", "--read-only", "--read-only-tmpfs=false",
        "--user", f"{NONROOT_ID}:{NONROOT_ID}", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        pause.reference,
    )  # fmt: skip
    try:
        assert podman("inspect", "--format", "{{.State.Running}}", name).stdout.strip() == "true"
        podman("stop", "--time", str(STOP_GRACE_S), name)
        assert podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "0"
    finally:
        podman("rm", "--force", name)


def test_the_pause_image_runs_as_nobody_by_itself(podman: Podman, pause: BuiltImage) -> None:
    config = json.loads(podman("image", "inspect", pause.reference).stdout)[0]["Config"]
    assert config["User"] == "65535:65535"
    assert config["Entrypoint"] == ["/pause"]
