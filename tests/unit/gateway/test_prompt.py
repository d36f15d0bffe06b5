from __future__ import annotations

import pytest

from llmkube.gateway.prompt import BadRequest, parse_request, prefix_key, prompt_prefix, sticky_key


def test_the_model_and_stream_flag_are_read() -> None:
    routed = parse_request({"model": "chat", "stream": True, "messages": []})
    assert (routed.model, routed.stream) == ("chat", True)


def test_a_request_without_a_model_is_refused_naming_the_field() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_request({"messages": []})
    assert caught.value.param == "model"


@pytest.mark.parametrize("body", [[], "text", 3])
def test_a_body_that_is_not_an_object_is_refused(body: object) -> None:
    with pytest.raises(BadRequest, match="JSON object"):
        parse_request(body)


def test_a_non_boolean_stream_is_refused() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_request({"model": "m", "stream": "yes"})
    assert caught.value.param == "stream"


def test_chat_messages_make_the_prefix_with_their_roles() -> None:
    body = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}
    assert prompt_prefix(body, limit=100) == "system\nBe brief.\nuser\nHi\n"


def test_content_parts_contribute_their_text() -> None:
    body = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Look"}, {"type": "image_url"}]}]
    }
    assert prompt_prefix(body, limit=100) == "user\nLook\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"prompt": "Once upon"}, "Once upon"),
        ({"prompt": ["Once", " upon"]}, "Once upon"),
        ({"prompt": [1, 2]}, "1,2,"),
        ({"input": "embed me"}, "embed me"),
    ],
)
def test_completion_prompts_and_embedding_inputs_make_the_prefix(
    body: dict[str, object], expected: str
) -> None:
    assert prompt_prefix(body, limit=100) == expected


def test_the_prefix_is_cut_at_the_limit() -> None:
    assert prompt_prefix({"prompt": "abcdef"}, limit=3) == "abc"


def test_later_turns_of_one_conversation_share_the_key() -> None:
    system = {"role": "system", "content": "x" * 600}
    first = parse_request({"model": "m", "messages": [system, {"role": "user", "content": "a"}]})
    later = parse_request(
        {
            "model": "m",
            "messages": [system, {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
        }
    )
    assert first.prefix_key == later.prefix_key is not None


def test_different_prompts_get_different_keys() -> None:
    assert prefix_key("system\nYou are a pirate.") != prefix_key("system\nYou are a lawyer.")


def test_a_request_without_prompt_text_has_no_key() -> None:
    assert parse_request({"model": "m"}).prefix_key is None


def test_a_key_left_out_at_parsing_is_computed_from_the_body_when_needed() -> None:
    body = {"model": "m", "messages": [{"role": "system", "content": "You are a pirate."}]}
    lazy = parse_request(body, prefix_chars=0)

    assert lazy.prefix_key is None
    assert sticky_key(lazy, prefix_chars=512) == parse_request(body).prefix_key is not None
