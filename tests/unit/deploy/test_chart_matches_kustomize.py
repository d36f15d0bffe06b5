"""The Helm chart installs what `kubectl apply -k config/default` installs: the same objects with the same content.

Objects are compared one by one, keyed by group, kind, namespace and name, with Helm's release labels set aside.
A failure names every object one side lacks and every field that differs, so whoever adds an object to
config/default (or changes one) sees what the chart still needs.
"""

from __future__ import annotations

from hack.chart import ObjectKey, drift, helm_template, kustomize

#: Values that render the parts of the chart that are off by default.
MONITORING = ("--set", "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true")
#: The chart leaves the release namespace to Helm (`--create-namespace`); config/default declares it.
WITH_NAMESPACE = ("--set", "namespace.create=true")

#: Where the chart renders objects that config/default may gain: the value to turn on by default then.
HINTS = {
    "llmkube-gateway": "the chart renders it with gateway.enabled: make that the default in values.yaml",
    "llmkube-gateway-role": "the chart renders it with gateway.enabled: make that the default in values.yaml",
    "llmkube-gateway-rolebinding": "the chart renders it with gateway.enabled: make that the default in values.yaml",
}


def test_the_chart_renders_exactly_the_objects_of_config_default() -> None:
    found = drift(kustomize("config/default"), helm_template(*WITH_NAMESPACE))

    assert not found, found.explain(expected="config/default", actual="the chart", hints=HINTS)


def test_with_monitoring_on_the_chart_also_renders_config_prometheus() -> None:
    expected = kustomize("config/default", "config/prometheus")

    found = drift(expected, helm_template(*WITH_NAMESPACE, *MONITORING))

    assert not found, found.explain(
        expected="config/default + config/prometheus", actual="the chart", hints=HINTS
    )


def test_by_default_the_chart_leaves_the_namespace_to_helm() -> None:
    expected = [o for o in kustomize("config/default") if o["kind"] != "Namespace"]

    found = drift(expected, helm_template())

    assert not found, found.explain(expected="config/default without its Namespace", actual="the chart")


def test_a_difference_names_the_object_and_the_field() -> None:
    # The comparison itself: a changed arg and a missing object are both reported by name.
    expected = kustomize("config/default")
    actual = [
        o for o in helm_template(*WITH_NAMESPACE, "--set", "controller.logLevel=debug") if o["kind"] != "Role"
    ]

    found = drift(expected, actual)

    assert [str(key) for key in found.missing] == [
        "Role.rbac.authorization.k8s.io llmkube-system/llmkube-leader-election-role"
    ]
    deployment = ObjectKey(
        group="apps", kind="Deployment", namespace="llmkube-system", name="llmkube-controller-manager"
    )
    assert any("args[2]" in path and "--log-level=debug" in path for path in found.changed[deployment])
