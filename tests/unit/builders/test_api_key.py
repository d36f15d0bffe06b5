"""A service's API key reaches llama-server as a mounted file, and its metrics are scraped with the same key."""

from __future__ import annotations

from typing import Any

from controller.builders.api_key import API_KEY_FILE
from controller.builders.deployment import desired_deployment
from controller.builders.monitoring import desired_service_monitor
from controller.config import ControllerConfig
from tests.unit.builders.conftest import isvc_from, model_from, ready

TINY = ready(model_from({"source": {"url": "https://example.com/tiny.gguf"}}))
KEYED = {"apiKeySecretRef": {"name": "chat-key", "key": "apiKey"}}


def pod_of(spec: dict[str, Any]) -> dict[str, Any]:
    deployment = desired_deployment(isvc=isvc_from(spec), model=TINY, config=ControllerConfig())
    assert deployment is not None
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


def test_the_key_is_mounted_from_its_secret_key_and_passed_as_a_file() -> None:
    pod = pod_of(KEYED)
    [server] = pod["containers"]
    args = server["args"]
    assert args[args.index("--api-key-file") + 1] == API_KEY_FILE
    assert "--api-key" not in args
    volume = next(v for v in pod["volumes"] if v["name"] == "api-key")
    assert volume["secret"]["secretName"] == "chat-key"
    assert volume["secret"]["items"] == [{"key": "apiKey", "path": "key"}]
    assert volume["secret"]["defaultMode"] == 0o440
    mount = next(m for m in server["volumeMounts"] if m["name"] == "api-key")
    assert mount["readOnly"] is True
    assert API_KEY_FILE.startswith(mount["mountPath"] + "/")


def test_a_service_without_a_key_has_no_key_file_or_volume() -> None:
    pod = pod_of({})
    assert "--api-key-file" not in pod["containers"][0]["args"]
    assert all(v["name"] != "api-key" for v in pod["volumes"])


def test_extra_args_still_come_last_after_the_key_file() -> None:
    args = pod_of({**KEYED, "extraArgs": ["--threads", "4"]})["containers"][0]["args"]
    assert args[-2:] == ["--threads", "4"]
    assert args.index("--api-key-file") < args.index("--threads")


def test_a_keyed_service_is_scraped_with_the_key_as_a_bearer_token() -> None:
    monitor = desired_service_monitor(isvc_from({**KEYED, "monitoring": {"enabled": True}}))
    assert monitor is not None
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "chat-key", "key": "apiKey"},
    }


def test_an_open_service_is_scraped_without_authorization() -> None:
    monitor = desired_service_monitor(isvc_from({"monitoring": {"enabled": True}}))
    assert monitor is not None
    assert "authorization" not in monitor["spec"]["endpoints"][0]
