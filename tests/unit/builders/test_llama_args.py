from __future__ import annotations

import pytest

from api.v1alpha1.gguf import GGUFInfo
from controller.builders.llama_args import (
    TUNING_FLAGS,
    ReservedArgumentError,
    gpu_count,
    llama_server_args,
    serving_shape,
)
from tests.unit.builders.conftest import isvc_from, model_from, sample

SOURCE = {"url": "https://example.com/tiny.gguf"}


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_13b_release_example_gets_two_gpus_split_by_layer_evenly() -> None:
    model = sample("multi_gpu_llama_13b.yaml", "Model")
    isvc = sample("multi_gpu_llama_13b.yaml", "InferenceService")
    args = llama_server_args(
        alias="chat", spec=isvc.spec, model=model.spec, model_path="/models/k/model.gguf"
    )
    assert flag(args, "--split-mode") == "layer"
    assert flag(args, "--tensor-split") == "1,1"


def test_70b_release_example_splits_across_four_gpus() -> None:
    model = sample("multi_gpu_llama_70b.yaml", "Model")
    isvc = sample("multi_gpu_llama_70b.yaml", "InferenceService")
    args = llama_server_args(alias="chat", spec=isvc.spec, model=model.spec, model_path="/m.gguf")
    assert flag(args, "--tensor-split") == "1,1,1,1"


def test_service_gpu_count_wins_over_the_models() -> None:
    isvc = isvc_from({"accelerator": {"type": "nvidia", "gpuCount": 4}})
    assert gpu_count(isvc.spec, model_from({"source": SOURCE, "gpuCount": 2}).spec) == 4


def test_model_gpu_count_applies_when_the_service_sets_none() -> None:
    isvc = isvc_from({"accelerator": {"type": "amd"}})
    assert gpu_count(isvc.spec, model_from({"source": SOURCE, "gpuCount": 2}).spec) == 2


@pytest.mark.parametrize(("accelerator", "expected"), [("nvidia", 1), ("amd", 1), ("metal", 1), ("host", 0)])
def test_gpu_count_defaults_by_accelerator(accelerator: str, expected: int) -> None:
    isvc = isvc_from({"accelerator": {"type": accelerator}})
    assert gpu_count(isvc.spec, model_from({"source": SOURCE}).spec) == expected


def test_cpu_services_ignore_the_models_gpu_count() -> None:
    isvc = isvc_from({})
    assert gpu_count(isvc.spec, model_from({"source": SOURCE, "gpuCount": 2}).spec) == 0


def test_single_gpu_services_get_no_split_flags() -> None:
    args = llama_server_args(
        alias="chat", spec=isvc_from({"accelerator": {"type": "nvidia"}}).spec, model=None, model_path="/m"
    )
    assert "--tensor-split" not in args
    assert "--split-mode" not in args


def test_gpu_services_offload_all_layers_and_cpu_services_none() -> None:
    gpu = llama_server_args(
        alias="chat", spec=isvc_from({"accelerator": {"type": "nvidia"}}).spec, model=None, model_path="/m"
    )
    cpu = llama_server_args(alias="chat", spec=isvc_from({}).spec, model=None, model_path="/m")
    assert flag(gpu, "--n-gpu-layers") == "999"
    assert flag(cpu, "--n-gpu-layers") == "0"


def test_required_flags_come_first_with_the_given_host_and_port() -> None:
    args = llama_server_args(
        alias="chat",
        spec=isvc_from({}).spec,
        model=None,
        model_path="/tmp/m.gguf",
        host="127.0.0.1",
        port=9001,
    )
    assert args[:8] == [
        "--model",
        "/tmp/m.gguf",
        "--alias",
        "chat",
        "--host",
        "127.0.0.1",
        "--port",
        "9001",
    ]
    assert "--metrics" in args


def test_port_defaults_to_the_endpoint_port() -> None:
    args = llama_server_args(
        alias="chat", spec=isvc_from({"endpoint": {"port": 8000}}).spec, model=None, model_path="/m"
    )
    assert flag(args, "--port") == "8000"


def test_context_defaults_to_slots_times_4096() -> None:
    shape = serving_shape(isvc_from({"accelerator": {"type": "nvidia"}}).spec, None)
    assert (shape.parallel_slots, shape.context_size) == (4, 16384)


def test_cpu_services_default_to_two_slots() -> None:
    assert serving_shape(isvc_from({}).spec, None).parallel_slots == 2


def test_per_slot_context_is_capped_at_the_models_context_length() -> None:
    shape = serving_shape(isvc_from({"parallelSlots": 3}).spec, None, GGUFInfo(context_length=2048))
    assert shape.context_size == 3 * 2048


def test_explicit_context_size_and_slots_are_used_as_given() -> None:
    args = llama_server_args(
        alias="chat",
        spec=isvc_from({"contextSize": 32768, "parallelSlots": 8}).spec,
        model=None,
        model_path="/m",
    )
    assert (flag(args, "--ctx-size"), flag(args, "--parallel")) == ("32768", "8")


def test_tuning_flags_are_passed() -> None:
    args = llama_server_args(alias="chat", spec=isvc_from({}).spec, model=None, model_path="/m")
    start = args.index(TUNING_FLAGS[0])
    assert tuple(args[start : start + len(TUNING_FLAGS)]) == TUNING_FLAGS


def test_extra_args_are_appended_last_so_they_override_defaults() -> None:
    args = llama_server_args(
        alias="chat",
        spec=isvc_from({"extraArgs": ["--ctx-size", "2048", "--jinja"]}).spec,
        model=None,
        model_path="/m",
    )
    assert args[-3:] == ["--ctx-size", "2048", "--jinja"]


@pytest.mark.parametrize(
    "reserved", [["--port", "9000"], ["--host=0.0.0.0"], ["-m", "/x.gguf"], ["--model=/x"]]
)
def test_reserved_flags_in_extra_args_are_rejected(reserved: list[str]) -> None:
    isvc = isvc_from({"extraArgs": reserved})  # the API server's CEL rule would refuse this first
    with pytest.raises(ReservedArgumentError, match="extraArgs may not set"):
        llama_server_args(alias="chat", spec=isvc.spec, model=None, model_path="/m")


def test_flags_that_merely_start_like_reserved_ones_are_allowed() -> None:
    isvc = isvc_from({"extraArgs": ["--model-draft", "/d.gguf"]})
    assert llama_server_args(alias="chat", spec=isvc.spec, model=None, model_path="/m")[-2:] == [
        "--model-draft",
        "/d.gguf",
    ]


def test_the_server_is_named_after_the_service_so_answers_carry_that_name() -> None:
    args = llama_server_args(alias="llama-3.2-3b", spec=isvc_from({}).spec, model=None, model_path="/m.gguf")
    assert flag(args, "--alias") == "llama-3.2-3b"
