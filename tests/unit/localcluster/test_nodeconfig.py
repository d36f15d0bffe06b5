"""The real node's configuration carries the settings this kind of machine needs, and stays inside the node's
own addresses and state dir."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path

import attrs
import pytest

from hack.localcluster.binaries import NodeBinaries
from hack.localcluster.certs import KeyPair
from hack.localcluster.components import POD_CIDR
from hack.localcluster.nodeconfig import (
    CLUSTER_DNS_IP,
    NODE_IP,
    NODE_NAME,
    POD_SUBNET,
    NodeKubeconfigs,
    NodeLayout,
    NodePorts,
    cni_conflist,
    containerd_config,
    corefile,
    kube_proxy_config,
    kubelet_argv,
    kubelet_config,
)


@pytest.fixture
def layout(tmp_path: Path) -> NodeLayout:
    return NodeLayout(
        binaries=NodeBinaries(bin_dir=tmp_path / "bin"),
        state_dir=tmp_path / "node",
        ports=NodePorts(
            kubelet_healthz=1001, proxy_healthz=1002, proxy_metrics=1003, dns_health=1004, dns_ready=1005
        ),
        ca=tmp_path / "ca.crt",
        kubelet_serving=KeyPair(cert=tmp_path / "kubelet.crt", key=tmp_path / "kubelet.key"),
        kubeconfigs=NodeKubeconfigs(
            kubelet=tmp_path / "kubelet.kubeconfig",
            kube_proxy=tmp_path / "kube-proxy.kubeconfig",
            coredns=tmp_path / "coredns.kubeconfig",
        ),
        pause_image="localhost/llmkube/pause:abc",
    )


def test_containerd_restricts_oom_score_adj_and_uses_cgroupfs_runc_and_the_pinned_pause_image(
    layout: NodeLayout,
) -> None:
    config = tomllib.loads(containerd_config(layout))

    runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
    assert config["version"] == 4
    assert runtime["restrict_oom_score_adj"] is True
    runc = runtime["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is False
    assert runc["options"]["BinaryName"] == "/usr/sbin/runc"
    images = config["plugins"]["io.containerd.cri.v1.images"]
    assert images["snapshotter"] == "overlayfs"
    assert images["pinned_images"]["sandbox"] == "localhost/llmkube/pause:abc"


def test_containerd_keeps_its_state_and_network_namespaces_in_the_state_dir(layout: NodeLayout) -> None:
    config = tomllib.loads(containerd_config(layout))

    runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
    assert runtime["netns_mounts_under_state_dir"] is True
    grpc = config["plugins"]["io.containerd.server.v1.grpc"]
    for path in (config["root"], config["state"], grpc["address"], runtime["cni"]["conf_dir"]):
        assert Path(path).is_relative_to(layout.state_dir)


def test_pods_get_addresses_from_a_subnet_inside_the_cluster_pod_cidr(layout: NodeLayout) -> None:
    bridge = cni_conflist(layout)["plugins"][0]
    subnet = ipaddress.ip_network(bridge["ipam"]["ranges"][0][0]["subnet"])

    assert subnet == ipaddress.ip_network(POD_SUBNET)
    assert subnet.subnet_of(ipaddress.ip_network(POD_CIDR))
    assert bridge["isGateway"]
    assert bridge["ipMasq"]
    assert bridge["hairpinMode"]
    assert Path(bridge["ipam"]["dataDir"]).is_relative_to(layout.state_dir)


def test_kubelet_runs_on_cgroup_v1_with_cgroupfs_and_points_pods_at_cluster_dns(layout: NodeLayout) -> None:
    config = kubelet_config(layout)

    assert config["failCgroupV1"] is False
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["clusterDNS"] == [CLUSTER_DNS_IP]
    assert config["address"] == NODE_IP


def test_kubelet_refuses_anonymous_requests(layout: NodeLayout) -> None:
    config = kubelet_config(layout)

    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["authorization"]["mode"] == "Webhook"


def test_kubelet_registers_under_the_node_name_with_the_real_node_label(layout: NodeLayout) -> None:
    argv = kubelet_argv(layout)

    assert f"--hostname-override={NODE_NAME}" in argv
    assert f"--node-ip={NODE_IP}" in argv
    assert "--node-labels=llmkube.dev/node-kind=real" in argv


def test_kube_proxy_changes_no_sysctl_and_opens_node_ports_on_the_node_address_only(
    layout: NodeLayout,
) -> None:
    config = kube_proxy_config(layout)

    assert config["mode"] == "iptables"
    assert config["conntrack"]["maxPerCore"] == 0
    assert config["conntrack"]["tcpEstablishedTimeout"] == "0s"
    assert config["conntrack"]["tcpCloseWaitTimeout"] == "0s"
    assert config["iptables"]["localhostNodePorts"] is False
    assert config["nodePortAddresses"] == [f"{NODE_IP}/32"]


def test_cluster_dns_listens_on_the_node_address_and_serves_the_cluster_domain(layout: NodeLayout) -> None:
    text = corefile(layout)

    assert f"bind {NODE_IP}" in text
    assert "kubernetes cluster.local in-addr.arpa ip6.arpa" in text
    assert str(layout.kubeconfigs.coredns) in text


def test_an_image_store_moves_only_containerds_root_out_of_the_state_dir(
    layout: NodeLayout, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    config = tomllib.loads(containerd_config(attrs.evolve(layout, image_store=store)))

    assert config["root"] == str(store)
    assert Path(config["state"]).is_relative_to(layout.state_dir)  # container mounts stay the cluster's
