"""An apply patch is parsed as YAML by the API server: whatever text an object holds must come back unchanged."""

from __future__ import annotations

import json

import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from controller.kube.client import yaml_safe_json


@given(text=st.text())
@example(text="a\x85b\u2028c\u2029d\ufeffe\x7f\x9f\ufffe\U0001f600")
def test_any_text_survives_a_yaml_parser_and_a_json_parser(text: str) -> None:
    body = {"metadata": {"name": "x"}, "data": {"k": text}}
    encoded = yaml_safe_json(body)
    assert json.loads(encoded) == body
    assert yaml.safe_load(encoded) == body


def test_characters_beyond_the_bmp_are_sent_as_utf8_not_surrogate_escapes() -> None:
    encoded = yaml_safe_json({"x": "\U0001f600"})
    assert "\U0001f600".encode() in encoded
    assert b"\\ud83d" not in encoded


def test_c1_controls_stay_escaped() -> None:
    assert yaml_safe_json({"x": "\x9f"}) == b'{"x": "\\u009f"}'
