from __future__ import annotations

from controller.builders.deployment import desired_deployment
from controller.builders.inference_pool import desired_inference_pool
from controller.builders.labels import selector_labels
from controller.config import ControllerConfig
from tests.unit.builders.conftest import isvc_from, model_from, ready


def test_the_pool_selects_exactly_the_pods_of_the_service_on_their_serving_port(
    config: ControllerConfig,
) -> None:
    isvc = isvc_from({"endpoint": {"port": 9000}}, name="chat")
    pool = desired_inference_pool(isvc)
    deployment = desired_deployment(
        isvc=isvc, model=ready(model_from({"source": {"url": "https://e.x/a.gguf"}})), config=config
    )

    assert pool is not None
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pool["spec"]["selector"] == {"matchLabels": selector_labels("chat")}
    assert selector_labels("chat").items() <= pod_labels.items()
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert (
        pool["spec"]["targetPorts"]
        == [{"number": container["ports"][0]["containerPort"]}]
        == [{"number": 9000}]
    )


def test_the_pool_belongs_to_the_service_and_names_the_endpoint_picker_by_the_charts_convention() -> None:
    pool = desired_inference_pool(isvc_from({}, name="chat.v2"))

    assert pool is not None
    assert (pool["apiVersion"], pool["kind"]) == ("inference.networking.k8s.io/v1", "InferencePool")
    assert pool["metadata"]["name"] == "chat-v2"
    assert pool["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"
    assert pool["spec"]["endpointPickerRef"] == {"name": "chat-v2-epp", "port": {"number": 9002}}


def test_services_of_the_host_agent_get_no_pool_since_no_pod_serves_them() -> None:
    assert desired_inference_pool(isvc_from({"accelerator": {"type": "metal"}})) is None
    assert desired_inference_pool(isvc_from({"accelerator": {"type": "host"}})) is None
