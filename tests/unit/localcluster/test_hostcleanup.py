"""Teardown removes the node's iptables chains and rules and nothing else."""

from __future__ import annotations

from hack.localcluster.hostcleanup import iptables_cleanup_commands

BASELINE = ["-P INPUT ACCEPT", "-P FORWARD ACCEPT", "-P OUTPUT ACCEPT"]


def test_the_chains_of_kubelet_and_kube_proxy_are_flushed_and_deleted_with_the_rules_jumping_to_them() -> (
    None
):
    lines = [
        *BASELINE,
        "-N KUBE-FIREWALL",
        "-N KUBE-SERVICES",
        "-A INPUT -j KUBE-FIREWALL",
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        "-A KUBE-FIREWALL -m mark --mark 0x8000/0x8000 -j DROP",
    ]

    commands = iptables_cleanup_commands(lines, set(BASELINE))

    assert ["-D", "INPUT", "-j", "KUBE-FIREWALL"] in commands
    assert [
        "-D",
        "OUTPUT",
        "-m",
        "comment",
        "--comment",
        "kubernetes service portals",
        "-j",
        "KUBE-SERVICES",
    ] in commands
    assert commands.index(["-D", "INPUT", "-j", "KUBE-FIREWALL"]) < commands.index(["-X", "KUBE-FIREWALL"])
    assert ["-F", "KUBE-FIREWALL"] in commands
    assert ["-X", "KUBE-SERVICES"] in commands


def test_the_bridge_plugins_masquerading_for_the_node_network_goes_and_other_rules_stay() -> None:
    ours = '-A POSTROUTING -s 10.244.250.5/32 -m comment --comment "name: \\"llmkube-pods\\" id: \\"abc\\"" -j CNI-1f2e'
    lines = [
        *BASELINE,
        "-N CNI-1f2e",
        "-N OTHER",
        ours,
        "-A POSTROUTING -s 192.168.9.0/24 -j MASQUERADE",
        '-A CNI-1f2e -d 10.244.250.0/24 -m comment --comment "name: \\"llmkube-pods\\" id: \\"abc\\"" -j ACCEPT',
    ]

    commands = iptables_cleanup_commands(
        lines, set(BASELINE) | {"-N OTHER", "-A POSTROUTING -s 192.168.9.0/24 -j MASQUERADE"}
    )

    assert commands[0][:2] == ["-D", "POSTROUTING"]
    assert commands[0][-2:] == ["-j", "CNI-1f2e"]
    assert ["-F", "CNI-1f2e"] in commands
    assert ["-X", "CNI-1f2e"] in commands
    assert not [command for command in commands if "OTHER" in command or "192.168.9.0/24" in command]


def test_a_shared_hostport_chain_loses_only_the_node_rules_and_goes_only_when_left_empty() -> None:
    node_rule = (
        '-A CNI-HOSTPORT-DNAT -m comment --comment "dnat name: \\"llmkube-pods\\" id: \\"abc\\"" -j CNI-DN-1'
    )
    other_rule = '-A CNI-HOSTPORT-DNAT -m comment --comment "dnat name: \\"other\\" id: \\"x\\"" -j CNI-DN-2'
    lines = [*BASELINE, "-N CNI-HOSTPORT-DNAT", "-N CNI-DN-1", node_rule, other_rule]

    commands = iptables_cleanup_commands(lines, set(BASELINE) | {other_rule})

    assert ["-X", "CNI-DN-1"] in commands
    assert ["-X", "CNI-HOSTPORT-DNAT"] not in commands
    assert any(command[:2] == ["-D", "CNI-HOSTPORT-DNAT"] and "CNI-DN-1" in command for command in commands)


def test_nothing_is_removed_from_a_table_the_node_never_touched() -> None:
    lines = [*BASELINE, "-N KUBE-OLD", "-A INPUT -j KUBE-OLD"]

    assert iptables_cleanup_commands(lines, set(lines)) == []
