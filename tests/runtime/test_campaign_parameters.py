"""A campaign's per-recipient parameters (api/campaigns/personalise.py): the expressions a
campaign knows, and a recipient's content filled in or refused with the reason Meta would have
answered after the fact."""

from __future__ import annotations

import pytest

from api.campaigns.personalise import RecipientError, check_expressions, render
from api.errors import ValidationFailed

CONTENT = {"template": {"name": "t", "language": {"code": "pt_BR"}, "components": [
    {"type": "header", "parameters": [{"type": "text", "text": "{{contact.first_name}}"}]},
    {"type": "body", "parameters": [{"type": "text", "text": "{{recipient.plan}}"},
                                    {"type": "text", "text": "{{contact.attributes.visits}} visitas"}]},
    {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "{{recipient.code}}"}]}]},
    "template_id": "x", "text": "Plano {{recipient.plan}}, {{contact.attributes.visits}} visitas"}


def recipient(**over):
    row = {"name": None, "whatsapp_name": "Ana Souza", "phone": None, "email": None, "whatsapp_id": "5511",
           "attributes": '{"visits": 3}', "variables": '{"plan": "gold", "code": "A1"}'}
    return {**row, **over}


def test_a_recipient_gets_its_own_values():
    out = render(CONTENT, recipient())
    header, body, button = out["template"]["components"]
    assert header["parameters"] == [{"type": "text", "text": "Ana"}]  # the WhatsApp name when no name
    assert body["parameters"] == [{"type": "text", "text": "gold"}, {"type": "text", "text": "3 visitas"}]
    assert button["parameters"] == [{"type": "text", "text": "A1"}] and button["index"] == "0"
    assert out["text"] == "Plano gold, 3 visitas"
    assert CONTENT["template"]["components"][1]["parameters"][0]["text"] == "{{recipient.plan}}"  # untouched


@pytest.mark.parametrize(("variables", "reason"), [
    ('{"code": "A1"}', "body parameter {{1}} is empty for this recipient: {{recipient.plan}} has no value"),
    ('{"plan": "  ", "code": "A1"}', "body parameter {{1}} is empty"),
    ('{"plan": "a\\nb", "code": "A1"}', "line break"),
    ('{"plan": "a      b", "code": "A1"}', "more than 4 spaces"),
    ('{"plan": "gold"}', "button 0 parameter {{1}} is empty"),
])
def test_an_unusable_parameter_is_refused_with_the_reason(variables, reason):
    with pytest.raises(RecipientError, match=".*" + reason.replace("{", r"\{").replace("}", r"\}")):
        render(CONTENT, recipient(variables=variables))


def test_long_values_are_refused():
    with pytest.raises(RecipientError, match="1025 characters"):
        render(CONTENT, recipient(variables='{"plan": "' + "x" * 1025 + '", "code": "A1"}'))


@pytest.mark.parametrize(("content", "field"), [
    ({"body": ["{{contact.age}}"]}, "message_content.body[0]"),
    ({"body": ["ok", "{{ recipient }}"]}, "message_content.body[1]"),
    ({"header": "{{contact.attributes}}"}, "message_content.header"),
    ({"buttons": [{"index": 0, "text": "{{agent.name}}"}]}, "message_content.buttons[0].text"),
    ({"header_media_url": "https://x.example/{{recipient.img}}.png"}, "message_content.header_media_url"),
])
def test_unknown_expressions_name_the_parameter(content, field):
    with pytest.raises(ValidationFailed) as raised:
        check_expressions(content)
    assert raised.value.field == field


def test_known_expressions_pass():
    assert check_expressions({"body": ["Oi {{ contact.name }}", "{{contact.attributes.plano-2}}",
                                       "{{recipient.coupon_code}}"], "header": "{{contact.email}}"})
    assert not check_expressions({"body": ["10%"]})


def test_a_coupon_code_is_filled_per_recipient_and_held_to_whatsapps_length():
    content = {"template": {"name": "t", "language": {"code": "pt_BR"}, "components": [
        {"type": "button", "sub_type": "copy_code", "index": "0",
         "parameters": [{"type": "coupon_code", "coupon_code": "{{recipient.code}}"}]}]}, "template_id": "x"}
    out = render(content, recipient())
    assert out["template"]["components"][0]["parameters"] == [{"type": "coupon_code", "coupon_code": "A1"}]
    with pytest.raises(RecipientError, match="button 0 coupon code has 16 characters"):
        render(content, recipient(variables='{"code": "ABCDEFGHIJKLMNOP"}'))
    with pytest.raises(RecipientError, match="button 0 coupon code"):
        render(content, recipient(variables='{}'))
