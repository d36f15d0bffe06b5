"""The embedded cluster's audit log: what the policy records, how events are read back, and who finds the log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from hack.localcluster.audit import (
    LOG_FILE,
    POLICY,
    WRITE_VERBS,
    AuditLogUnavailableError,
    apiserver_flags,
    read_events,
    write_policy,
)
from hack.localcluster.reused import ReusedCluster


def event(verb: str, received: str, **extra: Any) -> str:
    return json.dumps(
        {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "Metadata",
            "stage": "ResponseComplete",
            "verb": verb,
            "userAgent": "llmkube-controller/0.1.0",
            "requestReceivedTimestamp": received,
            "stageTimestamp": received,
            **extra,
        }
    )


def test_the_policy_drops_reads_and_records_writes_once_without_bodies() -> None:
    none_rule, metadata_rule = POLICY["rules"]
    assert (none_rule["level"], set(none_rule["verbs"])) == ("None", {"get", "list", "watch"})
    assert (metadata_rule["level"], set(metadata_rule["verbs"])) == ("Metadata", set(WRITE_VERBS))
    assert POLICY["omitStages"] == ["RequestReceived"]


def test_the_apiserver_flags_point_at_the_policy_and_log_in_the_state_dir(tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    flags = apiserver_flags(tmp_path)
    assert f"--audit-policy-file={policy}" in flags
    assert f"--audit-log-path={tmp_path / LOG_FILE}" in flags
    assert json.loads(policy.read_text()) == POLICY


def test_events_are_read_within_the_window_from_the_backup_and_the_live_file(tmp_path: Path) -> None:
    log = tmp_path / "kube-apiserver-audit.log"
    backup = tmp_path / "kube-apiserver-audit-2025-01-01T00-00-00.000.log"
    backup.write_text(event("create", "2025-01-01T00:00:01.000000Z") + "\n")
    log.write_text(
        event("patch", "2025-01-01T00:00:02.500000Z")
        + "\n"
        + event("delete", "2025-01-01T00:00:09.000000Z")
        + "\n"
        + '{"kind":"Event","verb":"upd'  # the line the server is still writing
    )
    since = datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC)
    until = datetime(2025, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert [e["verb"] for e in read_events(log)] == ["create", "patch", "delete"]
    assert [e["verb"] for e in read_events(log, since=since, until=until)] == ["create", "patch"]


def reused_kubeconfig(directory: Path) -> Path:
    path = directory / "admin.kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "current-context": "local",
                "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
                "clusters": [{"name": "local", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "admin", "user": {"client-certificate": "a.crt", "client-key": "a.key"}}],
            }
        )
    )
    return path


def test_a_reused_cluster_finds_the_audit_log_beside_its_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / LOG_FILE).parent.mkdir(parents=True)
    (tmp_path / LOG_FILE).write_text(event("create", "2025-01-01T00:00:01Z") + "\n")
    cluster = ReusedCluster(reused_kubeconfig(tmp_path))
    try:
        assert [e["verb"] for e in cluster.audit_events()] == ["create"]
    finally:
        cluster.close()


def test_a_reused_cluster_without_an_audit_log_says_so(tmp_path: Path) -> None:
    cluster = ReusedCluster(reused_kubeconfig(tmp_path))
    try:
        assert cluster.audit_log is None
        with pytest.raises(AuditLogUnavailableError, match="no audit log"):
            cluster.audit_events()
    finally:
        cluster.close()
