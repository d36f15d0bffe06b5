"""`leader_election_master_status{name}`: 1 while this replica holds the Lease `name`, else 0.

The name and meaning are client-go's, so dashboards built for controller-runtime operators read it unchanged.
Every replica serves /metrics, so `sum by (name)` across the scraped replicas says whether one leads (1) or none
does (0), and the replica whose series is 1 is the leader. The series exists at 0 from the moment the manager is
built, so "nobody leads" is a zero rather than an absent series.
"""

from __future__ import annotations

import weakref

import prometheus_client
from prometheus_client import CollectorRegistry, Gauge

_FAMILIES: weakref.WeakKeyDictionary[CollectorRegistry, Gauge] = weakref.WeakKeyDictionary()


def leader_status(registry: CollectorRegistry | None = None) -> Gauge:
    """The one `leader_election_master_status` family of `registry` (the process-wide one when None)."""
    registry = registry if registry is not None else prometheus_client.REGISTRY
    family = _FAMILIES.get(registry)
    if family is None:
        family = _FAMILIES[registry] = Gauge(
            "leader_election_master_status",
            "1 while this replica holds the leader election Lease `name`, else 0",
            ["name"],
            registry=registry,
        )
    return family
