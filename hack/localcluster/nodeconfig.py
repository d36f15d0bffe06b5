"""The real node's configuration files and command lines: containerd, CNI, kubelet, kube-proxy and CoreDNS.

Pure functions from a NodeLayout to text, dicts and argv, so each setting is unit-tested and documented once.
The settings that make the node run on this kind of machine (cgroup v1, no CAP_SYS_RESOURCE) are explained
where they are set.

Addresses: the node has an address of its own, NODE_IP, on a link the launcher creates (NODE_LINK). kube-apiserver,
the kubelet and CoreDNS listen there, so pods reach them (traffic from the pod bridge to a local address is
delivered locally) while nothing listens on the machine's external interface. Pods get addresses from
POD_SUBNET, one /24 inside the cluster's POD_CIDR far from the addresses kwok hands its fake pods.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from hack.localcluster.binaries import NodeBinaries
from hack.localcluster.certs import KeyPair
from hack.localcluster.components import POD_CIDR

NODE_NAME = "real-node"
#: The label that tells the real node from kwok's fake ones; tests and workloads select it with a nodeSelector.
NODE_LABEL = ("llmkube.dev/node-kind", "real")
NODE_IP = "10.245.0.1"
#: The link carrying NODE_IP (a bridge with no ports); its name marks it as the node's for a later clean-up.
NODE_LINK = "llmkube-node0"
BRIDGE = "llmkube-br0"
CNI_NETWORK = "llmkube-pods"
POD_SUBNET = "10.244.250.0/24"
POD_GATEWAY = "10.244.250.1"
CLUSTER_DOMAIN = "cluster.local"
CLUSTER_DNS_IP = "10.96.0.10"
KUBELET_PORT = 10250
DNS_PORT = 53


@attrs.frozen(kw_only=True)
class NodePorts:
    """Loopback ports for the node's health and metrics endpoints, picked free like the control plane's."""

    kubelet_healthz: int
    proxy_healthz: int
    proxy_metrics: int
    dns_health: int
    dns_ready: int


@attrs.frozen(kw_only=True)
class NodeKubeconfigs:
    kubelet: Path
    kube_proxy: Path
    coredns: Path


@attrs.frozen(kw_only=True)
class NodeLayout:
    """What the node's files and command lines refer to. Everything lives under `state_dir`."""

    binaries: NodeBinaries
    state_dir: Path
    ports: NodePorts
    ca: Path
    kubelet_serving: KeyPair
    kubeconfigs: NodeKubeconfigs
    pause_image: str
    #: containerd's root (content, snapshots, metadata) when it outlives the cluster (see imagestore.py);
    #: None keeps it in the state dir, removed with the cluster.
    image_store: Path | None = None

    @property
    def containerd_dir(self) -> Path:
        return self.state_dir / "containerd"

    @property
    def containerd_root(self) -> Path:
        return self.image_store if self.image_store is not None else self.containerd_dir / "root"

    @property
    def containerd_socket(self) -> Path:
        return self.containerd_dir / "containerd.sock"

    @property
    def containerd_config(self) -> Path:
        return self.containerd_dir / "config.toml"

    @property
    def cni_conf_dir(self) -> Path:
        return self.state_dir / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.state_dir / "cni" / "ipam"

    @property
    def kubelet_dir(self) -> Path:
        return self.state_dir / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.state_dir / "kubelet-config.yaml"

    @property
    def pod_logs_dir(self) -> Path:
        return self.state_dir / "pod-logs"

    @property
    def kube_proxy_config(self) -> Path:
        return self.state_dir / "kube-proxy-config.yaml"

    @property
    def corefile(self) -> Path:
        return self.state_dir / "Corefile"


# -- containerd ------------------------------------------------------------------------------------------


def containerd_config(layout: NodeLayout) -> str:
    """containerd's configuration (schema version 4, the one v2.3 writes; TOML written by hand: the stdlib reads
    TOML but does not write it). No `imports`, so nothing under /etc/containerd changes the node.

    - restrict_oom_score_adj: the CRI asks for oom_score_adj -998 for sandboxes; without CAP_SYS_RESOURCE runc
      cannot write a negative value and every RunPodSandbox fails ("can't get final child's PID from pipe").
    - SystemdCgroup = false: cgroupfs, matching the kubelet (no systemd manages this machine's cgroups).
    - netns_mounts_under_state_dir and the runc root keep the node's state out of /var/run.
    - The plugins switched off would create directories outside the state dir and serve nothing here.
    """
    state = layout.containerd_dir
    return f"""version = 4
imports = []
root = {_toml(layout.containerd_root)}
state = {_toml(state / "state")}
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.nri.v1.nri",
  "io.containerd.image-verifier.v1.bindir",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
  "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs",
]

[debug]
  level = "warn"

[plugins."io.containerd.server.v1.grpc"]
  address = {_toml(layout.containerd_socket)}

[plugins."io.containerd.server.v1.ttrpc"]
  address = {_toml(state / "containerd.sock.ttrpc")}

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = {_toml(layout.pause_image)}

[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
        Root = {_toml(state / "runc")}
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = {_toml(layout.cni_conf_dir)}
    max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
"""


def containerd_argv(layout: NodeLayout) -> list[str]:
    return [str(layout.binaries.containerd), f"--config={layout.containerd_config}"]


def containerd_env(layout: NodeLayout, environ: dict[str, str]) -> dict[str, str]:
    """containerd finds its runc shim on PATH: ours comes first, so no other installed shim is picked up."""
    return {**environ, "PATH": f"{layout.binaries.bin_dir}:{environ.get('PATH', '/usr/sbin:/usr/bin')}"}


def _toml(value: object) -> str:
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


# -- CNI -------------------------------------------------------------------------------------------------


def cni_conflist(layout: NodeLayout) -> dict[str, Any]:
    """The pod network: a bridge with the gateway on the host, masquerading outbound traffic, hairpin so a pod
    reaches itself through its own Service; portmap for hostPort; host-local IPAM kept in the state dir."""
    return {
        "cniVersion": "1.0.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET, "gateway": POD_GATEWAY}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(layout.cni_ipam_dir),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "loopback"},
        ],
    }


# -- kubelet ---------------------------------------------------------------------------------------------


def kubelet_config(layout: NodeLayout) -> dict[str, Any]:
    """KubeletConfiguration. The less obvious settings:

    - failCgroupV1: false and cgroupDriver cgroupfs: this machine has cgroup v1 only, without systemd.
    - Authentication by client certificate (the API server's kubelet-client identity) and authorization by
      webhook, as kubeadm sets up: pods can reach NODE_IP:10250, so anonymous access would let any pod exec.
    - Image garbage collection off: images are imported, no registry can give them back.
    - Eviction only on real exhaustion: the disk is shared with other work on this machine.
    """
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_IP,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": layout.ports.kubelet_healthz,
        "tlsCertFile": str(layout.kubelet_serving.cert),
        "tlsPrivateKeyFile": str(layout.kubelet_serving.key),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(layout.ca)},
        },
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "failSwapOn": False,
        "protectKernelDefaults": False,
        "clusterDomain": CLUSTER_DOMAIN,
        "clusterDNS": [CLUSTER_DNS_IP],
        "resolvConf": "/etc/resolv.conf",
        "hairpinMode": "hairpin-veth",
        "podLogsDir": str(layout.pod_logs_dir),
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "registerNode": True,
        "maxPods": 110,
        "shutdownGracePeriod": "0s",
        "nodeStatusUpdateFrequency": "4s",
    }


def kubelet_argv(layout: NodeLayout) -> list[str]:
    label_key, label_value = NODE_LABEL
    return [
        str(layout.binaries.kubelet),
        f"--config={layout.kubelet_config}",
        f"--kubeconfig={layout.kubeconfigs.kubelet}",
        f"--root-dir={layout.kubelet_dir}",
        f"--cert-dir={layout.kubelet_dir / 'pki'}",
        f"--hostname-override={NODE_NAME}",
        f"--node-ip={NODE_IP}",
        f"--node-labels={label_key}={label_value}",
        "--v=1",
    ]


# -- kube-proxy ------------------------------------------------------------------------------------------


def kube_proxy_config(layout: NodeLayout) -> dict[str, Any]:
    """KubeProxyConfiguration in iptables mode that changes no sysctl: conntrack settings at 0 leave the
    kernel's values alone, and localhostNodePorts off leaves route_localnet alone. NodePorts open on the node's
    own address only, never on the machine's external interface."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(layout.kubeconfigs.kube_proxy)},
        "hostnameOverride": NODE_NAME,
        "mode": "iptables",
        "clusterCIDR": POD_CIDR,
        "healthzBindAddress": f"127.0.0.1:{layout.ports.proxy_healthz}",
        "metricsBindAddress": f"127.0.0.1:{layout.ports.proxy_metrics}",
        "nodePortAddresses": [f"{NODE_IP}/32"],
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "iptables": {"localhostNodePorts": False, "syncPeriod": "30s", "minSyncPeriod": "0s"},
    }


def kube_proxy_argv(layout: NodeLayout) -> list[str]:
    return [str(layout.binaries.kube_proxy), f"--config={layout.kube_proxy_config}", "--v=1"]


# -- CoreDNS ---------------------------------------------------------------------------------------------


def corefile(layout: NodeLayout) -> str:
    """Cluster DNS as a host process on NODE_IP:53, the endpoint of the `kube-dns` Service. Names outside the
    cluster domain go to the machine's own resolver, as on any cluster."""
    return f""".:{DNS_PORT} {{
    bind {NODE_IP}
    errors
    health 127.0.0.1:{layout.ports.dns_health}
    ready 127.0.0.1:{layout.ports.dns_ready}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {layout.kubeconfigs.coredns}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }}
    forward . /etc/resolv.conf
    cache 30
    loadbalance
}}
"""


def coredns_argv(layout: NodeLayout) -> list[str]:
    return [str(layout.binaries.coredns), f"-conf={layout.corefile}"]
