"""Every controller flag is a chart value, and values the controller would refuse are refused at install time."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import pytest

from controller.options import parse_flags, parser
from hack.chart import CHART, ChartError, container_args, helm_template
from hack.tools import helm_binary

#: Each controller flag and the `helm --set` that sets it (`--kubeconfig`/`--context` have no meaning in a pod).
FLAG_VALUES = {
    "--namespace": "controller.watchNamespace=team-a",
    "--bind-address": "controller.metricsPort=9090",
    "--leader-elect": "controller.leaderElection.enabled=true",
    "--leader-election-namespace": "controller.leaderElection.namespace=ops",
    "--leader-election-id": "controller.leaderElection.id=llmkube-leader",
    "--max-concurrent-reconciles": "controller.maxConcurrentReconciles=8",
    "--graceful-shutdown-timeout": "controller.gracefulShutdownTimeout=45",
    "--model-cache-size": "controller.modelCache.size=500Gi",
    "--model-cache-storage-class": "controller.modelCache.storageClass=fast-nvme",
    "--model-cache-access-mode": "controller.modelCache.accessMode=ReadWriteMany",
    "--fetcher-image": "controller.fetcherImage=registry.local/llmkube:0.1.0",
    "--llama-server-image-cpu": "controller.llamaServerImage.cpu=registry.local/llama.cpp:server",
    "--llama-server-image-nvidia": "controller.llamaServerImage.nvidia=registry.local/llama.cpp:server-cuda",
    "--llama-server-image-amd": "controller.llamaServerImage.amd=registry.local/llama.cpp:server-rocm",
    "--gpu-memory": "controller.gpuMemory.NVIDIA-A10G=22Gi",
    "--fetch-node-selector": "controller.fetchNodeSelector.egress=fast",
    "--dcgm-namespace": "controller.dcgm.namespace=monitoring",
    "--dcgm-selector": "controller.dcgm.selector.app=dcgm",
    "--log-level": "controller.logLevel=debug",
    "--log-format": "controller.logFormat=console",
}
OUT_OF_CLUSTER_FLAGS = {"--kubeconfig", "--context", "-h", "--help"}


def controller_args(*values: str) -> list[str]:
    return container_args(helm_template(*values), "llmkube-controller-manager")


def test_every_controller_flag_has_a_chart_value() -> None:
    flags = {option for action in parser()._actions for option in action.option_strings}

    assert flags - OUT_OF_CLUSTER_FLAGS == set(FLAG_VALUES)


def test_every_value_set_renders_arguments_the_controller_parses_to_those_values() -> None:
    sets = [arg for value in FLAG_VALUES.values() for arg in ("--set", value)]

    flags = parse_flags(controller_args(*sets), environ={})

    assert flags.namespace == "team-a"
    assert flags.bind_port == 9090
    assert flags.leader_elect
    assert flags.leader_election_namespace == "ops"
    assert flags.leader_election_id == "llmkube-leader"
    assert flags.max_concurrent_reconciles == 8
    assert flags.graceful_shutdown_timeout == 45
    assert flags.config.model_cache_size == "500Gi"
    assert flags.config.model_cache_storage_class == "fast-nvme"
    assert flags.config.model_cache_access_mode == "ReadWriteMany"
    assert flags.config.fetcher_image == "registry.local/llmkube:0.1.0"
    assert flags.config.gpu_memory_overrides == {"NVIDIA-A10G": 22 * 2**30}
    assert flags.config.llama_server_images.cpu == "registry.local/llama.cpp:server"
    assert flags.config.llama_server_images.nvidia == "registry.local/llama.cpp:server-cuda"
    assert flags.config.llama_server_images.amd == "registry.local/llama.cpp:server-rocm"
    assert flags.config.fetch_node_selector == {"egress": "fast"}
    assert flags.config.dcgm_namespace == "monitoring"
    assert flags.config.dcgm_selector == {"app": "dcgm"}
    assert (flags.log_level, flags.log_format) == ("debug", "console")


def test_unset_values_leave_the_controllers_own_defaults() -> None:
    assert controller_args() == ["--leader-elect", "--bind-address=:8080"]


def test_the_metrics_port_moves_the_container_port_and_the_service_with_it() -> None:
    objects = helm_template("--set", "controller.metricsPort=9090")

    deployment = next(o for o in objects if o["kind"] == "Deployment")
    service = next(o for o in objects if o["kind"] == "Service")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] == 9090
    assert service["spec"]["ports"][0]["port"] == 9090


def test_more_than_one_replica_without_leader_election_is_refused() -> None:
    with pytest.raises(ChartError, match="leaderElection"):
        helm_template("--set", "controller.replicas=2", "--set", "controller.leaderElection.enabled=false")


def test_several_replicas_with_leader_election_are_fine() -> None:
    deployment = next(o for o in helm_template("--set", "controller.replicas=3") if o["kind"] == "Deployment")

    assert deployment["spec"]["replicas"] == 3


def test_a_log_level_the_controller_does_not_know_is_refused() -> None:
    with pytest.raises(ChartError, match="logLevel"):
        helm_template("--set", "controller.logLevel=verbose")


def test_a_misspelt_value_is_refused_rather_than_ignored() -> None:
    with pytest.raises(ChartError, match="replica"):
        helm_template("--set", "controller.replica=2")


def test_the_gateway_is_rendered_by_default_as_in_config_default_and_can_be_left_out() -> None:
    def gateway_objects(*values: str) -> set[str]:
        return {
            f"{o['kind']}/{o['metadata']['name']}"
            for o in helm_template(*values)
            if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "gateway"
        }

    assert gateway_objects("--set", "gateway.enabled=false") == set()
    assert gateway_objects() == {
        "ServiceAccount/llmkube-gateway",
        "ClusterRole/llmkube-gateway-role",
        "ClusterRoleBinding/llmkube-gateway-rolebinding",
        "Deployment/llmkube-gateway",
        "Service/llmkube-gateway",
    }


def test_the_host_agent_gets_a_bound_service_account_when_asked() -> None:
    objects = helm_template("--set", "hostAgent.serviceAccount.create=true")

    binding = next(o for o in objects if o["metadata"]["name"] == "llmkube-host-agent-rolebinding")
    assert binding["roleRef"]["name"] == "llmkube-host-agent-role"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "llmkube-host-agent", "namespace": "llmkube-system"}
    ]


def test_dashboards_are_labelled_for_the_grafana_sidecar() -> None:
    maps = [o for o in helm_template() if o["kind"] == "ConfigMap"]

    assert {m["metadata"]["name"] for m in maps} == {
        "llmkube-dashboard-controller",
        "llmkube-dashboard-gateway",
        "llmkube-dashboard-gpu",
        "llmkube-dashboard-inference",
        "llmkube-dashboard-models",
    }
    assert all(m["metadata"]["labels"]["grafana_dashboard"] == "1" for m in maps)


def test_helm_lint_finds_nothing() -> None:
    done = subprocess.run(
        [str(helm_binary()), "lint", "--strict", str(CHART)], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stdout + done.stderr


def test_the_packaged_chart_carries_crds_dashboards_and_rules(tmp_path: Path) -> None:
    subprocess.run(
        [str(helm_binary()), "package", str(CHART), "-d", str(tmp_path)], check=True, capture_output=True
    )

    (package,) = tmp_path.glob("llmkube-*.tgz")
    with tarfile.open(package) as archive:
        names = set(archive.getnames())
    assert "llmkube/crds/inference.llmkube.dev_models.yaml" in names
    assert "llmkube/files/dashboards/inference.json" in names
    assert "llmkube/files/prometheus-rules.yaml" in names
