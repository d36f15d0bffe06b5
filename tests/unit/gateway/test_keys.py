"""Reading a service's API keys out of its Secret and checking a client's bearer token against them."""

from __future__ import annotations

import base64

import pytest

from api.v1alpha1.meta import SecretKeyRef
from llmkube.gateway.keys import UnusableSecret, accepts, bearer_token, keys_in_secret

REF = SecretKeyRef(name="chat-key", key="apiKey")


def secret(value: bytes) -> dict[str, object]:
    return {"data": {"apiKey": base64.b64encode(value).decode()}}


def test_each_non_empty_line_is_a_key_as_llama_server_reads_its_key_file() -> None:
    assert keys_in_secret(secret(b"sk-one\n\nsk-two\n"), REF) == ("sk-one", "sk-two")


def test_a_missing_key_names_the_secret_and_the_key() -> None:
    with pytest.raises(UnusableSecret, match="Secret 'chat-key' has no key 'apiKey'"):
        keys_in_secret({"data": {"other": "eA=="}}, REF)


def test_an_empty_value_is_refused_rather_than_sent_as_an_empty_key() -> None:
    with pytest.raises(UnusableSecret, match="is empty"):
        keys_in_secret(secret(b"\n"), REF)


def test_a_value_that_is_not_text_is_refused_without_showing_it() -> None:
    with pytest.raises(UnusableSecret, match="not UTF-8 text") as raised:
        keys_in_secret(secret(b"\xff-hunter2"), REF)

    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer sk-1", "sk-1"),
        ("bearer  sk-1 ", "sk-1"),
        ("Basic abc", None),
        ("Bearer ", None),
        (None, None),
    ],
)
def test_the_bearer_token_is_read_from_the_authorization_header(
    header: str | None, token: str | None
) -> None:
    assert bearer_token(header) == token


def test_any_of_the_keys_admits_and_nothing_else_does() -> None:
    keys = ("sk-one", "sk-two")

    assert accepts(keys, "sk-two")
    assert not accepts(keys, "sk-on")
    assert not accepts(keys, None)
