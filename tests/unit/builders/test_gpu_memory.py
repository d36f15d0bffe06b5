from __future__ import annotations

import pytest

from controller.builders.gpu_memory import (
    GIB,
    MIB,
    node_gpu_memory,
    parse_gpu_memory_overrides,
    product_memory_mib,
)


def test_gpu_feature_discovery_memory_label_is_mib_of_one_gpu() -> None:
    memory = node_gpu_memory(
        {"nvidia.com/gpu.memory": "81559", "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    )

    assert memory is not None
    assert memory.bytes == 81_559 * MIB
    assert memory.source == "label nvidia.com/gpu.memory"


@pytest.mark.parametrize(
    ("product", "mib"),
    [
        ("Tesla-T4", 15_360),
        ("NVIDIA-L4", 23_034),
        ("NVIDIA-A10", 23_028),
        ("NVIDIA-A10G", 23_028),
        ("NVIDIA-L40S", 46_068),
        ("NVIDIA-A100-SXM4-40GB", 40_960),
        ("NVIDIA-A100-PCIE-40GB", 40_960),
        ("NVIDIA-A100-SXM4-80GB", 81_920),
        ("NVIDIA-A100-80GB-PCIe", 81_920),
        ("NVIDIA-H100-80GB-HBM3", 81_559),
        ("NVIDIA-H100-PCIe", 81_559),
        ("NVIDIA-H100-NVL", 95_830),
        ("NVIDIA-H200", 143_771),
        ("NVIDIA-B200", 183_359),
        ("NVIDIA-GeForce-RTX-4090", 24_564),
        ("NVIDIA-GeForce-RTX-3090", 24_576),
        ("AMD_Instinct_MI300X_OAM", 192 * 1024),
        ("AMD_Instinct_MI250X", 64 * 1024),
    ],
)
def test_common_gpus_are_known_by_their_product_label(product: str, mib: int) -> None:
    assert product_memory_mib(product) == mib


def test_a_product_label_alone_is_looked_up_in_the_table() -> None:
    memory = node_gpu_memory({"nvidia.com/gpu.product": "NVIDIA-A10G"})

    assert memory is not None
    assert memory.bytes == 23_028 * MIB
    assert memory.source == "product table: NVIDIA-A10G"


def test_a_mig_slice_counts_less_than_its_profile_name_promises() -> None:
    assert product_memory_mib("NVIDIA-A100-SXM4-40GB-MIG-3g.20gb") == 20 * 950


def test_a_time_sliced_gpu_has_the_memory_of_the_whole_gpu() -> None:
    assert product_memory_mib("NVIDIA-A100-SXM4-80GB-SHARED") == 81_920


def test_an_unknown_product_gives_no_answer() -> None:
    assert node_gpu_memory({"nvidia.com/gpu.product": "NVIDIA-GB300"}) is None
    assert node_gpu_memory({"kubernetes.io/hostname": "cpu-node"}) is None


def test_amd_node_labeller_vram_is_whole_gib() -> None:
    memory = node_gpu_memory(
        {"amd.com/gpu.vram": "191G", "amd.com/gpu.product-name": "AMD_Instinct_MI300X_OAM"}
    )

    assert memory is not None
    assert memory.bytes == 191 * GIB


def test_the_older_amd_labeller_puts_vram_in_the_label_key() -> None:
    memory = node_gpu_memory({"beta.amd.com/gpu.vram.16G": "1"})

    assert memory is not None
    assert memory.bytes == 16 * GIB
    assert memory.source == "label beta.amd.com/gpu.vram.16G"


def test_an_override_for_the_product_wins_over_the_labels() -> None:
    labels = {"nvidia.com/gpu.memory": "23028", "nvidia.com/gpu.product": "NVIDIA-A10G"}

    memory = node_gpu_memory(labels, overrides={"NVIDIA-A10G": 20 * GIB})

    assert memory is not None
    assert memory.bytes == 20 * GIB
    assert memory.source == "override for NVIDIA-A10G"


def test_overrides_are_parsed_from_product_equals_quantity() -> None:
    assert parse_gpu_memory_overrides(["NVIDIA-A10G=22Gi", "AMD_Instinct_MI300X_OAM=180G"]) == {
        "NVIDIA-A10G": 22 * GIB,
        "AMD_Instinct_MI300X_OAM": 180 * 10**9,
    }


@pytest.mark.parametrize("item", ["NVIDIA-A10G", "=22Gi", "NVIDIA-A10G=lots", "NVIDIA-A10G=0"])
def test_a_malformed_override_is_rejected_with_the_expected_form(item: str) -> None:
    with pytest.raises(ValueError, match=r"PRODUCT=QUANTITY|quantity"):
        parse_gpu_memory_overrides([item])
