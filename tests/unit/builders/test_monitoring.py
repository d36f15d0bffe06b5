from __future__ import annotations

import re

from controller.builders.labels import selector_labels
from controller.builders.monitoring import (
    dcgm_owner_labels,
    dcgm_pod_regex,
    desired_dcgm_monitor,
    desired_service_monitor,
)
from controller.config import ControllerConfig
from tests.unit.builders.conftest import isvc_from, model_from

MONITORED_GPU = {"accelerator": {"type": "nvidia"}, "monitoring": {"enabled": True}}


def test_no_monitors_when_monitoring_is_off(config: ControllerConfig) -> None:
    isvc = isvc_from({"accelerator": {"type": "nvidia"}})
    assert desired_service_monitor(isvc) is None
    assert desired_dcgm_monitor(isvc=isvc, model=None, config=config) is None


def test_llama_monitor_selects_the_service_and_scrapes_metrics() -> None:
    monitor = desired_service_monitor(isvc_from({"monitoring": {"enabled": True}}, name="chat"))
    assert monitor is not None
    assert monitor["spec"]["selector"] == {"matchLabels": selector_labels("chat")}
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["metadata"]["namespace"] == "team-a"


def test_cpu_services_get_no_dcgm_monitor(config: ControllerConfig) -> None:
    assert (
        desired_dcgm_monitor(isvc=isvc_from({"monitoring": {"enabled": True}}), model=None, config=config)
        is None
    )


def test_dcgm_monitor_selects_the_exporter_in_its_namespace(config: ControllerConfig) -> None:
    monitor = desired_dcgm_monitor(isvc=isvc_from(MONITORED_GPU), model=None, config=config)
    assert monitor is not None
    assert monitor["metadata"]["namespace"] == "gpu-operator"
    assert monitor["spec"]["selector"] == {"matchLabels": {"app": "nvidia-dcgm-exporter"}}
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["gpu-operator"]}


def test_dcgm_monitor_keeps_only_this_services_pods_with_their_own_labels(config: ControllerConfig) -> None:
    monitor = desired_dcgm_monitor(
        isvc=isvc_from(MONITORED_GPU, name="llama-3.2-3b"), model=None, config=config
    )
    assert monitor is not None
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["honorLabels"] is True
    [rule] = endpoint["metricRelabelings"]
    assert (rule["sourceLabels"], rule["action"]) == (["namespace", "pod"], "keep")
    pattern = re.compile(f"^(?:{rule['regex']})$")
    assert pattern.match("team-a;llama-3-2-3b-7d9f8c6b5-x2k4q")
    assert not pattern.match("team-b;llama-3-2-3b-7d9f8c6b5-x2k4q")
    assert not pattern.match("team-a;other-7d9f8c6b5-x2k4q")


def test_dcgm_monitor_has_no_owner_reference_but_names_its_owner_in_labels(config: ControllerConfig) -> None:
    monitor = desired_dcgm_monitor(isvc=isvc_from(MONITORED_GPU), model=None, config=config)
    assert monitor is not None
    assert "ownerReferences" not in monitor["metadata"]
    assert dcgm_owner_labels(namespace="team-a", name="chat").items() <= monitor["metadata"]["labels"].items()


def test_dcgm_monitor_names_differ_across_namespaces(config: ControllerConfig) -> None:
    a = desired_dcgm_monitor(isvc=isvc_from(MONITORED_GPU, namespace="a"), model=None, config=config)
    b = desired_dcgm_monitor(isvc=isvc_from(MONITORED_GPU, namespace="b"), model=None, config=config)
    assert a is not None
    assert b is not None
    assert a["metadata"]["name"] != b["metadata"]["name"]


def test_a_gpu_service_whose_model_asks_for_zero_gpus_gets_no_dcgm_monitor(config: ControllerConfig) -> None:
    model = model_from({"source": {"url": "https://e.x/a.gguf"}, "gpuCount": 0})
    assert desired_dcgm_monitor(isvc=isvc_from(MONITORED_GPU), model=model.spec, config=config) is None


def test_pod_regex_does_not_match_pods_of_a_deployment_sharing_the_prefix() -> None:
    pattern = re.compile(f"^(?:{dcgm_pod_regex(namespace='ns', deployment='chat')})$")
    assert not pattern.match("ns;chat-v2-7d9f8c6b5-x2k4q")
