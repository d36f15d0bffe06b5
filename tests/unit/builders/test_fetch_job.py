from __future__ import annotations

from typing import Any

from api.v1alpha1.fetch_result import cache_key_for
from api.v1alpha1.model import Model
from api.v1alpha1.well_known import CACHE_KEY_LABEL, FETCH_ATTEMPT_ANNOTATION, FETCH_INTENT_LABEL
from controller.builders.fetch_job import (
    desired_fetch_job,
    fetch_attempt,
    fetch_intent,
    fetch_job_disposition,
    model_cache_key,
)
from controller.config import ControllerConfig
from tests.unit.builders.conftest import model_from

KEY = "0123456789abcdef"


def build(model: Model) -> dict[str, Any]:
    return desired_fetch_job(model=model, cache_key=KEY, config=ControllerConfig())


def container(job: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = job["spec"]["template"]["spec"]["containers"][0]
    return found


def test_huggingface_source_passes_repo_file_and_revision(hf_model: Model) -> None:
    args = container(build(hf_model))["args"]
    assert args[:6] == ["--hf-repo", "org/tiny-GGUF", "--hf-file", "tiny.Q4_K_M.gguf", "--revision", "main"]


def test_url_source_passes_the_url() -> None:
    args = container(build(model_from({"source": {"url": "https://example.com/a.gguf?sig=1"}})))["args"]
    assert args[:2] == ["--url", "https://example.com/a.gguf?sig=1"]


def test_pvc_source_reads_the_file_from_a_read_only_source_mount() -> None:
    job = build(model_from({"source": {"pvc": {"claimName": "airgap", "path": "/llms/a.gguf"}}}))
    assert container(job)["args"][:2] == ["--local-path", "/source/llms/a.gguf"]
    assert {"name": "source", "mountPath": "/source", "readOnly": True} in container(job)["volumeMounts"]
    volumes = job["spec"]["template"]["spec"]["volumes"]
    assert {"name": "source", "persistentVolumeClaim": {"claimName": "airgap", "readOnly": True}} in volumes


def test_every_job_names_cache_dir_key_and_termination_log(hf_model: Model) -> None:
    args = container(build(hf_model))["args"]
    assert args[-8:] == [
        "--cache-dir",
        "/models",
        "--cache-key",
        KEY,
        "--report-to-model",
        hf_model.metadata.name,
        "--termination-log",
        "/dev/termination-log",
    ]


def test_the_source_identity_is_passed_so_pvc_records_do_not_depend_on_the_mount() -> None:
    model = model_from({"source": {"pvc": {"claimName": "airgap", "path": "llms/a.gguf"}}})
    args = container(build(model))["args"]
    assert args[args.index("--source-identity") + 1] == "pvc://airgap/llms/a.gguf"


def test_sha256_is_passed_when_the_spec_has_one() -> None:
    digest = "a" * 64
    args = container(build(model_from({"source": {"url": "https://e.x/a.gguf"}, "sha256": digest})))["args"]
    assert args[args.index("--sha256") + 1] == digest


def test_hf_token_comes_from_the_secret_as_env_and_never_in_args() -> None:
    model = model_from(
        {"source": {"huggingFace": {"repo": "o/r", "filename": "a.gguf", "tokenSecretRef": {"name": "hf"}}}}
    )
    fetch = container(build(model))
    token = next(e for e in fetch["env"] if e["name"] == "HF_TOKEN")
    assert token == {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}
    assert not any(a == "hf" or "token" in a.lower() for a in fetch["args"])


def test_sources_without_a_token_get_no_token_env(hf_model: Model) -> None:
    env = container(build(hf_model))["env"]
    assert "HF_TOKEN" not in {e["name"] for e in env}
    assert {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"} in env


def test_job_is_named_by_model_and_cache_key_and_owned_by_the_model(hf_model: Model) -> None:
    metadata = build(hf_model)["metadata"]
    assert metadata["name"] == "tiny-fetch-01234567"
    assert metadata["ownerReferences"][0]["kind"] == "Model"


def test_job_names_of_long_dotted_models_are_valid_and_keep_the_key() -> None:
    model = model_from(
        {"source": {"url": "https://e.x/a.gguf"}}, name="meta-llama-3.1-70b-instruct." + "x" * 60
    )
    name = build(model)["metadata"]["name"]
    assert len(name) <= 63
    assert "." not in name
    assert name.endswith("-fetch-01234567")


def intent_of(model: Model) -> str:
    return fetch_intent(model=model, cache_key=KEY, config=ControllerConfig())


URL_SPEC: dict[str, Any] = {"source": {"url": "https://e.x/a.gguf"}}


def test_the_job_and_its_pods_carry_the_cache_key_and_the_fetch_intent(hf_model: Model) -> None:
    job = build(hf_model)
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        assert labels[CACHE_KEY_LABEL] == KEY
        assert labels[FETCH_INTENT_LABEL] == intent_of(hf_model)


def test_the_same_spec_always_has_the_same_fetch_intent() -> None:
    assert intent_of(model_from(URL_SPEC)) == intent_of(model_from(URL_SPEC))


def test_a_new_expected_sha256_is_a_new_fetch_intent_for_the_same_cache_key() -> None:
    unchecked = model_from(URL_SPEC)
    checked = model_from({**URL_SPEC, "sha256": "a" * 64})
    corrected = model_from({**URL_SPEC, "sha256": "b" * 64})
    assert len({intent_of(unchecked), intent_of(checked), intent_of(corrected)}) == 3


def test_another_token_secret_is_a_new_fetch_intent() -> None:
    def with_secret(name: str) -> Model:
        hf = {"repo": "o/r", "filename": "a.gguf", "tokenSecretRef": {"name": name}}
        return model_from({"source": {"huggingFace": hf}})

    assert intent_of(with_secret("hf")) != intent_of(with_secret("hf-new"))


def job_labelled(*, cache_key: str = KEY, intent: str | None, deleting: bool = False) -> dict[str, Any]:
    labels = {CACHE_KEY_LABEL: cache_key, **({FETCH_INTENT_LABEL: intent} if intent else {})}
    metadata: dict[str, Any] = {"name": "tiny-fetch-01234567", "labels": labels}
    if deleting:
        metadata["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    return {"metadata": metadata}


def test_a_job_with_the_specs_cache_key_and_intent_is_current() -> None:
    job = job_labelled(intent="i1")
    assert fetch_job_disposition(job, cache_key=KEY, intent="i1") == "current"


def test_a_job_of_the_same_file_with_another_intent_is_replaced() -> None:
    job = job_labelled(intent="i1")
    assert fetch_job_disposition(job, cache_key=KEY, intent="i2") == "replaced"


def test_a_job_that_records_no_intent_is_replaced() -> None:
    job = job_labelled(intent=None)
    assert fetch_job_disposition(job, cache_key=KEY, intent="i1") == "replaced"


def test_a_current_job_being_deleted_is_replaced_not_followed() -> None:
    job = job_labelled(intent="i1", deleting=True)
    assert fetch_job_disposition(job, cache_key=KEY, intent="i1") == "replaced"


def test_a_job_for_another_cache_key_is_unwanted() -> None:
    job = job_labelled(cache_key="fedcba9876543210", intent="i1")
    assert fetch_job_disposition(job, cache_key=KEY, intent="i1") == "unwanted"


def test_job_fails_fast_and_keeps_its_result_for_the_reconciler(hf_model: Model) -> None:
    spec = build(hf_model)["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] > 0
    assert "ttlSecondsAfterFinished" not in spec
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_result_travels_in_the_termination_message(hf_model: Model) -> None:
    fetch = container(build(hf_model))
    assert fetch["terminationMessagePath"] == "/dev/termination-log"
    assert fetch["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_cache_is_mounted_writable_and_the_pod_runs_as_nonroot_with_fs_group(hf_model: Model) -> None:
    job = build(hf_model)
    assert {"name": "model-cache", "mountPath": "/models"} in container(job)["volumeMounts"]
    security = job["spec"]["template"]["spec"]["securityContext"]
    assert (security["runAsNonRoot"], security["runAsUser"], security["fsGroup"]) == (True, 65532, 65532)


def test_fetcher_runs_from_the_controller_image(hf_model: Model) -> None:
    fetch = container(build(hf_model))
    assert fetch["image"] == ControllerConfig().fetcher_image
    assert fetch["command"] == ["llmkube", "fetch"]


def test_model_cache_key_is_derived_from_the_source_identity(hf_model: Model) -> None:
    assert model_cache_key(hf_model) == cache_key_for("hf://org/tiny-GGUF/tiny.Q4_K_M.gguf@main")


def test_the_pod_runs_as_the_fetch_account_with_its_token_and_namespace(hf_model: Model) -> None:
    pod = build(hf_model)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "llmkube-fetch"
    assert pod["automountServiceAccountToken"] is True
    namespace_env = next(e for e in container(build(hf_model))["env"] if e["name"] == "POD_NAMESPACE")
    assert namespace_env["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}


def test_the_attempt_is_annotated_and_read_back(hf_model: Model) -> None:
    job = desired_fetch_job(model=hf_model, cache_key=KEY, config=ControllerConfig(), attempt=3)
    assert job["metadata"]["annotations"][FETCH_ATTEMPT_ANNOTATION] == "3"
    assert fetch_attempt(job) == 3
    assert fetch_attempt(None) == 0


def test_an_unreadable_attempt_counts_as_the_first() -> None:
    assert fetch_attempt({"metadata": {"annotations": {FETCH_ATTEMPT_ANNOTATION: "many"}}}) == 1


def test_download_pods_go_to_the_configured_nodes(hf_model: Model) -> None:
    config = ControllerConfig(fetch_node_selector={"net": "fast"})
    job = desired_fetch_job(model=hf_model, cache_key=KEY, config=config)
    assert job["spec"]["template"]["spec"]["nodeSelector"] == {"net": "fast"}
    assert "nodeSelector" not in build(hf_model)["spec"]["template"]["spec"]
