from __future__ import annotations

from controller.builders.autoscaling import desired_autoscaler
from controller.config import ControllerConfig
from tests.unit.builders.conftest import isvc_from, sample


def test_no_autoscaler_without_autoscaling(config: ControllerConfig) -> None:
    assert desired_autoscaler(isvc=isvc_from({}), config=config) is None


def test_cpu_metric_targets_80_percent_utilisation_by_default(config: ControllerConfig) -> None:
    hpa = desired_autoscaler(
        isvc=isvc_from({"autoscaling": {"minReplicas": 2, "maxReplicas": 5}}), config=config
    )
    assert hpa is not None
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
        }
    ]


def test_requests_deferred_metric_is_an_average_per_pod(config: ControllerConfig) -> None:
    hpa = desired_autoscaler(isvc=sample("gpu_inferenceservice.yaml", "InferenceService"), config=config)
    assert hpa is not None
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": "llamacpp:requests_deferred"},
                "target": {"type": "AverageValue", "averageValue": "2"},
            },
        }
    ]


def test_an_explicit_target_overrides_the_default(config: ControllerConfig) -> None:
    isvc = isvc_from({"autoscaling": {"maxReplicas": 3, "metric": "requestsDeferred", "target": 5}})
    hpa = desired_autoscaler(isvc=isvc, config=config)
    assert hpa is not None
    assert hpa["spec"]["metrics"][0]["pods"]["target"]["averageValue"] == "5"


def test_autoscaler_scales_the_services_deployment(config: ControllerConfig) -> None:
    hpa = desired_autoscaler(isvc=isvc_from({"autoscaling": {"maxReplicas": 3}}, name="a.b"), config=config)
    assert hpa is not None
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "a-b"}
    assert hpa["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"
