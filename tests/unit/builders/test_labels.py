from __future__ import annotations

import re

import attrs
import pytest

from controller.builders.labels import dns1035_name, label_value, owner_reference, selector_labels
from tests.unit.builders.conftest import isvc_from

DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def test_dotted_names_become_dashed_dns1035_labels() -> None:
    assert dns1035_name("llama-3.2-3b") == "llama-3-2-3b"


def test_uppercase_and_odd_characters_are_replaced() -> None:
    assert dns1035_name("Llama_3B") == "llama-3b"


def test_a_leading_digit_gets_a_letter_prefix() -> None:
    name = dns1035_name("3b-chat")
    assert DNS1035.match(name)
    assert name.endswith("3b-chat")


def test_long_names_are_cut_to_63_chars_with_a_hash_of_the_original() -> None:
    long_a = "a" * 80 + ".one"
    long_b = "a" * 80 + ".two"
    assert len(dns1035_name(long_a)) == 63
    assert DNS1035.match(dns1035_name(long_a))
    assert dns1035_name(long_a) != dns1035_name(long_b)


def test_a_suffix_is_kept_whole_when_the_name_is_truncated() -> None:
    name = dns1035_name("m" * 70, suffix="-fetch-1234abcd")
    assert len(name) == 63
    assert name.endswith("-fetch-1234abcd")


def test_short_valid_names_are_unchanged() -> None:
    assert dns1035_name("tiny") == "tiny"


def test_long_label_values_are_truncated_with_a_hash() -> None:
    value = label_value("x." * 40)
    assert len(value) <= 63
    assert re.match(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", value)


def test_owner_reference_is_a_blocking_controller_reference() -> None:
    ref = owner_reference(isvc_from({}))
    assert ref == {
        "apiVersion": "inference.llmkube.dev/v1alpha1",
        "kind": "InferenceService",
        "name": "chat",
        "uid": "isvc-uid",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_owner_reference_refuses_an_object_without_uid() -> None:
    isvc = isvc_from({})
    unsaved = attrs.evolve(isvc, metadata=attrs.evolve(isvc.metadata, uid=None))
    with pytest.raises(ValueError, match="uid"):
        owner_reference(unsaved)


def test_selector_labels_name_the_app_and_the_service() -> None:
    assert selector_labels("llama-3.2-3b") == {
        "app.kubernetes.io/name": "llmkube",
        "inference.llmkube.dev/service": "llama-3.2-3b",
    }
