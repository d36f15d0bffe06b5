from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from api import crdgen
from api.crds import all_crds, inferenceservice_crd, model_crd
from api.fields import spec_field
from api.schema import SchemaError, schema_for_class


def spec_of(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema


def test_generation_is_deterministic() -> None:
    assert [crdgen.render(c) for c in all_crds().values()] == [crdgen.render(c) for c in all_crds().values()]


def test_committed_crds_are_up_to_date() -> None:
    assert crdgen.main(["--check"]) == 0


def test_check_fails_on_stale_files(tmp_path: Path) -> None:
    assert crdgen.main(["--out", str(tmp_path)]) == 0
    (tmp_path / "inference.llmkube.dev_models.yaml").write_text("stale")
    assert crdgen.main(["--check", "--out", str(tmp_path)]) == 1


def test_every_field_has_a_description() -> None:
    def walk(schema: dict[str, Any], path: str) -> list[str]:
        missing = [] if schema.get("description") or path.endswith("[]") else [path]
        for name, child in schema.get("properties", {}).items():
            missing += walk(child, f"{path}.{name}")
        if "items" in schema:
            missing += walk(schema["items"], f"{path}[]")
        return missing

    for crd in all_crds().values():
        root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert walk(root["properties"]["spec"], "spec") == []
        assert walk(root["properties"]["status"], "status") == []


def test_model_source_requires_exactly_one_kind_by_cel() -> None:
    rules = spec_of(model_crd())["properties"]["source"]["x-kubernetes-validations"]
    assert any("size() == 1" in r["rule"] for r in rules)


def test_extra_args_may_not_override_operator_flags() -> None:
    extra = spec_of(inferenceservice_crd())["properties"]["extraArgs"]
    assert "--port" in extra["x-kubernetes-validations"][0]["rule"]
    assert extra["items"]["maxLength"] == 1024


def test_defaults_and_enums_are_in_the_schema() -> None:
    spec = spec_of(inferenceservice_crd())
    assert spec["properties"]["replicas"]["default"] == 1
    assert spec["properties"]["endpoint"]["default"] == {}
    assert spec["properties"]["endpoint"]["properties"]["port"]["default"] == 8080
    assert spec["properties"]["accelerator"]["properties"]["type"]["enum"] == [
        "cpu",
        "nvidia",
        "amd",
        "metal",
        "host",
    ]
    assert spec_of(model_crd())["properties"]["gpuCount"]["minimum"] == 0


def test_names_short_names_and_subresources() -> None:
    isvc, model = inferenceservice_crd()["spec"], model_crd()["spec"]
    assert isvc["names"]["shortNames"] == ["isvc"]
    assert model["names"]["shortNames"] == ["mdl"]
    assert isvc["names"]["categories"] == model["names"]["categories"] == ["llmkube"]
    assert isvc["versions"][0]["subresources"]["scale"]["specReplicasPath"] == ".spec.replicas"
    assert model["versions"][0]["subresources"] == {"status": {}}


def test_printer_columns_tell_the_story() -> None:
    names = [c["name"] for c in inferenceservice_crd()["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert names[:5] == ["Phase", "Model", "Ready", "GPUs", "Endpoint"]
    assert names[-1] == "Age"


def test_field_without_description_is_rejected() -> None:
    @attrs.frozen(kw_only=True)
    class Undocumented:
        x: int = spec_field(description="")

    with pytest.raises(SchemaError, match="needs a description"):
        schema_for_class(Undocumented, where="spec")


def test_api_reference_page_is_up_to_date() -> None:
    from api import docgen

    assert docgen.main(["--check"]) == 0
