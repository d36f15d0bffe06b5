"""Prometheus scrape jobs made from the ServiceMonitors LLMKube ships or creates, as the Prometheus Operator would.

The test Prometheus runs without the Operator and without Kubernetes service discovery (the targets are local
processes), so this module does the Operator's part for one target: the endpoint's path, interval, honorLabels
and metricRelabelings carry over unchanged, and the target gets the labels the Operator gives every target of a
ServiceMonitor (`job` = the Service's name, `namespace`, `service`, `pod`, `container`, `endpoint` = the port's
name). The relabelling rules the controller writes are therefore exercised by a real Prometheus.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

#: ServiceMonitor relabel fields and their Prometheus configuration names.
_RELABEL_FIELDS = {
    "sourceLabels": "source_labels",
    "separator": "separator",
    "targetLabel": "target_label",
    "regex": "regex",
    "modulus": "modulus",
    "replacement": "replacement",
    "action": "action",
}


@attrs.frozen(kw_only=True)
class Target:
    """Where a scraped process listens, and the Kubernetes objects the Operator would say it belongs to."""

    address: str
    namespace: str
    service: str
    pod: str
    container: str

    def labels(self, *, port_name: str) -> dict[str, str]:
        return {
            "job": self.service,
            "namespace": self.namespace,
            "service": self.service,
            "pod": self.pod,
            "container": self.container,
            "endpoint": port_name,
        }


def _relabeling(rule: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(rule) - set(_RELABEL_FIELDS)
    if unknown:
        raise ValueError(f"relabeling fields this translation does not know: {sorted(unknown)}")
    return {_RELABEL_FIELDS[key]: value for key, value in rule.items()}


def scrape_job(
    *, monitor: Mapping[str, Any], target: Target, interval: str, endpoint_index: int = 0
) -> dict[str, Any]:
    """The scrape job for `target` from endpoint `endpoint_index` of the ServiceMonitor `monitor`.

    `interval` replaces the endpoint's own (tests scrape every second instead of every 15 or 30).
    """
    endpoint = monitor["spec"]["endpoints"][endpoint_index]
    meta = monitor["metadata"]
    job: dict[str, Any] = {
        # The Operator's own job name; the `job` label is the Service's name, as it sets it.
        "job_name": f"serviceMonitor/{meta.get('namespace', target.namespace)}/{meta['name']}/{endpoint_index}",
        "scrape_interval": interval,
        "metrics_path": endpoint.get("path", "/metrics"),
        "honor_labels": bool(endpoint.get("honorLabels", False)),
        "static_configs": [
            {"targets": [target.address], "labels": target.labels(port_name=str(endpoint["port"]))}
        ],
    }
    relabelings = [_relabeling(rule) for rule in endpoint.get("metricRelabelings") or []]
    if relabelings:
        job["metric_relabel_configs"] = relabelings
    return job


def prometheus_config(jobs: list[dict[str, Any]], *, interval: str) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": jobs,
    }
