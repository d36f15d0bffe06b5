"""How much memory one GPU of a node has, read from the labels GPU discovery puts on nodes.

Sources, in the order they win:

1. An override for the node's GPU product, from the controller's `--gpu-memory PRODUCT=QUANTITY` flag: the
   operator knows best (a product missing from the table, or headroom kept for other tenants).
2. `nvidia.com/gpu.memory`, set by NVIDIA GPU feature discovery (part of the GPU operator): MiB of one GPU (of
   one MIG slice with the `single` MIG strategy), as the driver reports it.
3. `amd.com/gpu.vram` (or `beta.amd.com/gpu.vram`), set by AMD's node labeller: whole GiB of one GPU, written
   like `192G`; older labellers put the size in the key (`beta.amd.com/gpu.vram.16G=1`).
4. The product label (`nvidia.com/gpu.product` from feature discovery, `amd.com/gpu.product-name` from AMD's
   labeller) looked up in `GPU_PRODUCTS`, a table of common data-centre and workstation GPUs. MIG slices named
   in the product (`...-MIG-3g.20gb`) count 950 MiB per "gb", which is below what every MIG profile offers.

The table holds usable memory as the driver reports it (what `nvidia-smi` shows), a little below the marketing
figure; the plan's safety margin is applied elsewhere, not here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from controller.builders.model_cache import quantity_value

MIB = 1 << 20
GIB = 1 << 30

NVIDIA_MEMORY_LABEL = "nvidia.com/gpu.memory"
NVIDIA_PRODUCT_LABEL = "nvidia.com/gpu.product"
AMD_VRAM_LABELS = ("amd.com/gpu.vram", "beta.amd.com/gpu.vram")
AMD_PRODUCT_LABELS = ("amd.com/gpu.product-name", "beta.amd.com/gpu.product-name")
_LEGACY_AMD_VRAM = re.compile(r"^beta\.amd\.com/gpu\.vram\.(\d+)G$")
_AMD_VRAM_VALUE = re.compile(r"^(\d+)G$")
_MIG_SUFFIX = re.compile(r"-MIG-\d+g\.(\d+)gb", re.IGNORECASE)
#: What GPU feature discovery appends when a GPU is time-sliced or shared through MPS; memory is unchanged.
_SHARING_SUFFIX = re.compile(r"-SHARED$", re.IGNORECASE)


@attrs.frozen(kw_only=True)
class GpuProduct:
    #: Lower-case fragments that must all start a dash-separated word of the normalised product name (so "l4"
    #: matches `NVIDIA-L4` but "b200" does not match `NVIDIA-GB200`).
    match: tuple[str, ...]
    memory_mib: int


#: Most specific first: the first entry all of whose fragments match wins (`a100` before `a10`, `l40s` before `l4`).
#: With the 96 GB and 144 GB GH200 both sold, the smaller is assumed; an override says otherwise.
GPU_PRODUCTS: tuple[GpuProduct, ...] = (
    # NVIDIA data centre
    GpuProduct(match=("gh200",), memory_mib=97_871),
    GpuProduct(match=("b300",), memory_mib=275_040),
    GpuProduct(match=("b200",), memory_mib=183_359),
    GpuProduct(match=("h200",), memory_mib=143_771),
    GpuProduct(match=("h100", "nvl"), memory_mib=95_830),
    GpuProduct(match=("h100",), memory_mib=81_559),
    GpuProduct(match=("h800",), memory_mib=81_559),
    GpuProduct(match=("a100", "80gb"), memory_mib=81_920),
    GpuProduct(match=("a100",), memory_mib=40_960),
    GpuProduct(match=("a800", "80gb"), memory_mib=81_920),
    GpuProduct(match=("a800",), memory_mib=40_960),
    GpuProduct(match=("l40s",), memory_mib=46_068),
    GpuProduct(match=("l40",), memory_mib=46_068),
    GpuProduct(match=("l20",), memory_mib=46_068),
    GpuProduct(match=("l4",), memory_mib=23_034),
    GpuProduct(match=("a10g",), memory_mib=23_028),
    GpuProduct(match=("a10",), memory_mib=23_028),
    GpuProduct(match=("a30",), memory_mib=24_576),
    GpuProduct(match=("a40",), memory_mib=46_068),
    GpuProduct(match=("a16",), memory_mib=15_356),
    GpuProduct(match=("a2",), memory_mib=15_356),
    GpuProduct(match=("t4",), memory_mib=15_360),
    GpuProduct(match=("v100", "32gb"), memory_mib=32_768),
    GpuProduct(match=("v100",), memory_mib=16_384),
    # NVIDIA workstation and consumer
    GpuProduct(match=("rtx-pro-6000",), memory_mib=97_887),
    GpuProduct(match=("rtx-6000-ada",), memory_mib=49_140),
    GpuProduct(match=("rtx-a6000",), memory_mib=49_140),
    GpuProduct(match=("rtx-a5000",), memory_mib=24_564),
    GpuProduct(match=("rtx-a4000",), memory_mib=16_376),
    GpuProduct(match=("rtx-5090",), memory_mib=32_607),
    GpuProduct(match=("rtx-4090",), memory_mib=24_564),
    GpuProduct(match=("rtx-4080",), memory_mib=16_376),
    GpuProduct(match=("rtx-3090",), memory_mib=24_576),
    GpuProduct(match=("rtx-3080",), memory_mib=10_240),
    # AMD Instinct and Radeon (one MI250/MI250X package shows as two GPUs of 64 GiB)
    GpuProduct(match=("mi355",), memory_mib=288 * 1024),
    GpuProduct(match=("mi350",), memory_mib=288 * 1024),
    GpuProduct(match=("mi325",), memory_mib=256 * 1024),
    GpuProduct(match=("mi300a",), memory_mib=128 * 1024),
    GpuProduct(match=("mi300",), memory_mib=192 * 1024),
    GpuProduct(match=("mi250",), memory_mib=64 * 1024),
    GpuProduct(match=("mi210",), memory_mib=64 * 1024),
    GpuProduct(match=("mi100",), memory_mib=32 * 1024),
    GpuProduct(match=("w7900",), memory_mib=48 * 1024),
    GpuProduct(match=("7900", "xtx"), memory_mib=24 * 1024),
)


@attrs.frozen(kw_only=True)
class GpuMemory:
    bytes: int
    #: Where the figure came from, for messages ("label nvidia.com/gpu.memory", "product table: ...").
    source: str


def node_gpu_memory(
    labels: Mapping[str, str], *, overrides: Mapping[str, int] | None = None
) -> GpuMemory | None:
    """Memory of one GPU of the node with these labels, or None when nothing says (the caller decides)."""
    product = gpu_product(labels)
    if product is not None and overrides:
        for name in (product, _SHARING_SUFFIX.sub("", product)):
            if name in overrides:
                return GpuMemory(bytes=overrides[name], source=f"override for {name}")
    nvidia = _positive_int(labels.get(NVIDIA_MEMORY_LABEL))
    if nvidia is not None:
        return GpuMemory(bytes=nvidia * MIB, source=f"label {NVIDIA_MEMORY_LABEL}")
    amd = _amd_vram_gib(labels)
    if amd is not None:
        return GpuMemory(bytes=amd[0] * GIB, source=f"label {amd[1]}")
    if product is not None:
        mib = product_memory_mib(product)
        if mib is not None:
            return GpuMemory(bytes=mib * MIB, source=f"product table: {product}")
    return None


def gpu_product(labels: Mapping[str, str]) -> str | None:
    for key in (NVIDIA_PRODUCT_LABEL, *AMD_PRODUCT_LABELS):
        value = labels.get(key)
        if value:
            return value
    return None


def product_memory_mib(product: str) -> int | None:
    """MiB of one GPU (or MIG slice) of a product as discovery labels name it, from `GPU_PRODUCTS`."""
    mig = _MIG_SUFFIX.search(product)
    if mig is not None:
        return int(mig.group(1)) * 950
    name = "-" + _normalised(product)
    for entry in GPU_PRODUCTS:
        if all(f"-{fragment}" in name for fragment in entry.match):
            return entry.memory_mib
    return None


def parse_gpu_memory_overrides(values: list[str]) -> dict[str, int]:
    """`PRODUCT=QUANTITY` items (`NVIDIA-A10G=22Gi`) as product -> bytes; raises ValueError naming the fix."""
    overrides: dict[str, int] = {}
    for item in values:
        product, sep, quantity = item.partition("=")
        if not sep or not product.strip():
            raise ValueError(
                f"GPU memory override {item!r} must look like PRODUCT=QUANTITY, e.g. NVIDIA-A10G=22Gi "
                f"(PRODUCT as the node label {NVIDIA_PRODUCT_LABEL} or {AMD_PRODUCT_LABELS[0]} spells it)"
            )
        amount = quantity_value(quantity)
        if amount <= 0:
            raise ValueError(f"GPU memory override {item!r} must be a positive quantity, e.g. 22Gi")
        overrides[product.strip()] = int(amount)
    return overrides


def _normalised(product: str) -> str:
    """Lower case with spaces and underscores as dashes: GFD writes `NVIDIA-GeForce-RTX-4090`, AMD `AMD_Instinct_MI300X_OAM`."""
    return re.sub(r"[\s_]+", "-", product.strip().lower())


def _positive_int(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    number = int(value.strip())
    return number or None


def _amd_vram_gib(labels: Mapping[str, str]) -> tuple[int, str] | None:
    for key in AMD_VRAM_LABELS:
        match = _AMD_VRAM_VALUE.match(labels.get(key, "").strip())
        if match is not None and int(match.group(1)) > 0:
            return int(match.group(1)), key
    for key in labels:
        legacy = _LEGACY_AMD_VRAM.match(key)
        if legacy is not None and int(legacy.group(1)) > 0:
            return int(legacy.group(1)), key
    return None
