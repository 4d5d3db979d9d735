"""Every (message kind, field) Meta limits: a rendered value over the limit goes
out within the limit and still says what it should.

What "within the limit" means is checked by the sandbox's own reading of
Meta's rules (`api.sandbox.validation.check_send`) on the Graph request body
the sender builds (`build_message`), so the table, the fitting and the wire
format are checked together.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from api.sandbox.validation import check_send
from api.whatsapp.graph_client import build_message
from compiler import compile_canvas
from engine import Interpreter
from engine import whatsapp_limits as L

TO = "5511987654321"


def words(n: int, word: str = "palavra") -> str:
    """Text of about ``n`` characters made of words (so splits have boundaries)."""
    out = []
    size = 0
    i = 0
    while size < n:
        w = f"{word}{i}"
        out.append(w)
        size += len(w) + 1
        i += 1
    return " ".join(out)[:n]


def over(limit: int, marker: str = "X") -> str:
    """A distinctive value 37 characters over ``limit``."""
    return (marker + "abcdefghij" * ((limit + 37) // 10 + 1))[:limit + 37]


BUTTONS = [{"id": "sim", "title": "Sim"}, {"id": "nao", "title": "Não"}]
ROWS = [{"id": "r1", "title": "Pizza"}, {"id": "r2", "title": "Bebida", "description": "Gelada"}]


def button(**change: Any) -> dict[str, Any]:
    return {"text": "Escolha", "buttons": [dict(b) for b in BUTTONS], **change}


def listing(**change: Any) -> dict[str, Any]:
    return {"text": "Escolha", "button": "Ver opções", "rows": [dict(r) for r in ROWS], **change}


def with_item(content: dict[str, Any], key: str, field: str, value: str) -> dict[str, Any]:
    content[key][0][field] = value
    return content


def texts(fitted: L.Fitted) -> list[str]:
    return [c["text"] for t, c in fitted if t == "text"]


def shortened(value: str, limit: int) -> Callable[[str], bool]:
    return lambda sent: len(sent) == limit and sent.endswith(L.ELLIPSIS) and value.startswith(sent[:-1])


TEXT = words(9000)
BODY = words(1508)
CAPTION = over(L.CAPTION, "C")

# (kind, field in LIMITS, content with the field over its limit, check of what is sent)
CASES: list[tuple[str, str, dict[str, Any], Callable[[L.Fitted], bool]]] = [
    ("text", "text", {"text": TEXT},
     lambda f: len(f) == 3 and " ".join(texts(f)) == TEXT),
    *[(media, "caption", {"media_url": "https://example.com/f", "caption": CAPTION},
       lambda f, media=media: [t for t, _ in f] == [media] and shortened(CAPTION, L.CAPTION)(f[0][1]["caption"]))
      for media in L.CAPTIONED_MEDIA],
    *[(kind, "text", make(text=BODY + "\nEscolha uma opção:"),
       lambda f, kind=kind: [t for t, _ in f] == ["text", kind] and texts(f) == [BODY]
       and f[1][1]["text"] == "Escolha uma opção:")
      for kind, make in (("button", button), ("list", listing))],
    *[(kind, key, make(**{key: over(limit, "H")}),
       lambda f, key=key, limit=limit: shortened(over(limit, "H"), limit)(f[0][1][key]))
      for kind, make in (("button", button), ("list", listing))
      for key, limit in (("header", L.HEADER_TEXT), ("footer", L.FOOTER_TEXT))],
    ("button", "buttons[].title", with_item(button(), "buttons", "title", over(L.BUTTON_TITLE)),
     lambda f: shortened(over(L.BUTTON_TITLE), L.BUTTON_TITLE)(f[0][1]["buttons"][0]["title"])
     and f[0][1]["buttons"][1]["title"] == "Não"),
    ("button", "buttons[].id", with_item(button(), "buttons", "id", over(L.BUTTON_ID)),
     lambda f: f[0][1]["buttons"][0]["id"] == L.fit_id(over(L.BUTTON_ID), L.BUTTON_ID)
     and len(f[0][1]["buttons"][0]["id"]) == L.BUTTON_ID),
    ("list", "button", listing(button=over(L.LIST_BUTTON)),
     lambda f: shortened(over(L.LIST_BUTTON), L.LIST_BUTTON)(f[0][1]["button"])),
    ("list", "section_title", listing(section_title=over(L.SECTION_TITLE)),
     lambda f: shortened(over(L.SECTION_TITLE), L.SECTION_TITLE)(f[0][1]["section_title"])),
    ("list", "rows[].title", with_item(listing(), "rows", "title", over(L.ROW_TITLE)),
     lambda f: shortened(over(L.ROW_TITLE), L.ROW_TITLE)(f[0][1]["rows"][0]["title"])),
    ("list", "rows[].description", with_item(listing(), "rows", "description", over(L.ROW_DESCRIPTION)),
     lambda f: shortened(over(L.ROW_DESCRIPTION), L.ROW_DESCRIPTION)(f[0][1]["rows"][0]["description"])),
    ("list", "rows[].id", with_item(listing(), "rows", "id", over(L.ROW_ID)),
     lambda f: f[0][1]["rows"][0]["id"] == L.fit_id(over(L.ROW_ID), L.ROW_ID)
     and len(f[0][1]["rows"][0]["id"]) == L.ROW_ID),
]


def test_every_limit_in_the_table_has_a_case():
    assert {(kind, field) for kind, field, _, _ in CASES} == set(L.LIMITS)


def sent_within_meta_limits(fitted: L.Fitted) -> None:
    for msg_type, content in fitted:
        problem = check_send(build_message(TO, msg_type, content))
        assert problem is None, (msg_type, problem)


@pytest.mark.parametrize("kind, field, content, expected", CASES, ids=[f"{k}.{f}" for k, f, _, _ in CASES])
def test_a_value_over_its_limit_is_sent_within_it(kind, field, content, expected):
    if field != "section_title":  # (build_message shortens the section title itself)
        assert check_send(build_message(TO, kind, content)) is not None  # as rendered, Meta would refuse it
    fitted, adjustments = L.fit(kind, content)
    sent_within_meta_limits(fitted)
    assert expected(fitted), fitted
    name = field.replace("[]", "[0]")
    assert any(a["field"] == name for a in adjustments), adjustments


@pytest.mark.parametrize("kind, content", [
    ("text", {"text": "x" * L.TEXT_BODY}),
    ("image", {"media_url": "https://example.com/f", "caption": "c" * L.CAPTION}),
    ("button", button(text="b" * L.INTERACTIVE_BODY, header="h" * L.HEADER_TEXT, footer="f" * L.FOOTER_TEXT)),
    ("list", with_item(listing(button="b" * L.LIST_BUTTON), "rows", "description", "d" * L.ROW_DESCRIPTION)),
])
def test_a_message_at_its_limits_is_sent_unchanged(kind, content):
    fitted, adjustments = L.fit(kind, content)
    assert fitted == [(kind, content)] and fitted[0][1] is content and adjustments == []


def test_text_given_with_an_audio_or_a_sticker_follows_it_as_a_text_message():
    for media in L.UNCAPTIONED_MEDIA:
        fitted, adjustments = L.fit(media, {"media_url": "https://example.com/a.ogg", "caption": "Ouça o áudio"})
        assert fitted == [(media, {"media_url": "https://example.com/a.ogg"}), ("text", {"text": "Ouça o áudio"})]
        assert adjustments == [{"field": "caption", "action": "moved_to_text", "length": 12}]
        sent_within_meta_limits(fitted)


def test_a_long_text_is_split_at_word_boundaries():
    parts = L.split_text(TEXT)
    assert all(len(p) <= L.TEXT_BODY for p in parts) and " ".join(parts) == TEXT
    assert all(not p.endswith(" ") and not p.startswith(" ") for p in parts)
    assert L.split_text("a" * 5000) == ["a" * 4096, "a" * 904]  # no boundary: a hard cut


def test_a_long_interactive_body_without_a_short_last_paragraph_points_up():
    fitted, _ = L.fit("button", button(text=BODY))
    assert texts(fitted) == [BODY] and fitted[1][1]["text"] == L.CONTINUED_BODY


def test_ids_cut_to_their_limit_stay_distinct_and_match_the_reply():
    a, b = "x" * 300 + "a", "x" * 300 + "b"
    fitted, _ = L.fit("list", listing(rows=[{"id": a, "title": "A"}, {"id": b, "title": "B"}]))
    sent = [r["id"] for r in fitted[0][1]["rows"]]
    assert len(set(sent)) == 2 and all(len(i) == L.ROW_ID for i in sent)
    assert L.id_matches(a, sent[0]) and not L.id_matches(a, sent[1])


def test_button_titles_cut_to_the_same_text_are_numbered():
    fitted, _ = L.fit("button", button(buttons=[{"id": "a", "title": "Maria da Silva Sauro Junior"},
                                                {"id": "b", "title": "Maria da Silva Sauro Neto"}]))
    titles = [b["title"] for b in fitted[0][1]["buttons"]]
    assert len(set(titles)) == 2 and all(len(t) <= L.BUTTON_TITLE for t in titles)
    sent_within_meta_limits(fitted)


def test_empty_texts_are_not_sent_empty():
    assert L.fit("text", {"text": "  "}) == ([], [{"field": "text", "action": "dropped_empty"}])
    fitted, _ = L.fit("button", button(text="", buttons=[{"id": "sim", "title": ""}]))
    assert fitted[0][1]["text"] and fitted[0][1]["buttons"][0]["title"] == "sim"
    sent_within_meta_limits(fitted)
    blank = button(text=" ", header="  ", footer="\n", buttons=[{"id": "sim", "title": " "}])
    assert check_send(build_message(TO, "button", blank)) is not None
    fitted, adjustments = L.fit("button", blank)
    assert "header" not in fitted[0][1] and "footer" not in fitted[0][1]
    assert fitted[0][1]["buttons"][0]["title"] == "sim"
    assert {a["field"] for a in adjustments} == {"text", "header", "footer", "buttons[0].title"}
    sent_within_meta_limits(fitted)
    fitted, _ = L.fit("list", listing(rows=[{"id": "r1", "title": ""}]))
    assert fitted[0][1]["rows"][0]["title"] == "r1"
    sent_within_meta_limits(fitted)


# -- through the engine: what a flow's templates render ---------------------------------

def _flow(*nodes: dict[str, Any]) -> Any:
    canvas_nodes = [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}}]
    edges = []
    previous = "start"
    for i, (node_type, data) in enumerate(nodes):
        node_id = f"n{i}"
        canvas_nodes.append({"id": node_id, "type": node_type, "position": {"x": 0, "y": 0}, "data": data})
        edges.append({"id": f"e{i}", "source": previous, "target": node_id, "sourceHandle": "next"})
        previous = node_id
    result = compile_canvas({"nodes": canvas_nodes, "edges": edges})
    assert result.ok, result.diagnostics
    return result.program


NAME = "Maria Aparecida dos Santos Oliveira Costa"  # 41 characters


async def test_a_templated_button_title_and_body_go_out_within_meta_limits(kit):
    program = _flow(
        ("message", {"text": "{{contact.bio}}\nO que deseja?",
                     "buttons": [{"id": "eu", "title": "{{contact.name}}"}, {"id": "outro", "title": "Outra pessoa"}]}),
        ("message", {"media_url": "https://example.com/a.ogg", "media_type": "audio",
                     "text": "Ouça, {{contact.name}}"}),
        ("end", {}),
    )
    ports = kit.make_ports()
    result = await Interpreter(ports).start(program, "main", {"contact": {"name": NAME, "bio": BODY}})
    sent = [(m.type, m.content) for m in kit.sent(result)]
    assert [t for t, _ in sent] == ["text", "button", "audio", "text"]
    assert sent[0][1]["text"] == BODY and sent[1][1]["text"] == "O que deseja?"
    assert sent[1][1]["buttons"][0]["title"] == NAME[:19] + L.ELLIPSIS
    assert sent[3][1]["text"] == f"Ouça, {NAME}"
    sent_within_meta_limits(sent)
    adjusted = [e for e in result.events if e.type == "message_adjusted"]
    assert [(e.node, e.data["type"]) for e in adjusted] == [("n0", "button"), ("n1", "audio")]
    assert {a["field"] for a in adjusted[0].data["adjustments"]} == {"text", "buttons[0].title"}
    assert result.messages == [{"type": t, "content": c} for t, c in sent]


def test_an_option_matches_the_fitted_form_of_its_id():
    from engine.answers import match_option

    long_id = "y" * 260
    option = {"id": long_id, "title": "Y"}
    assert match_option([option], None, L.fit_id(long_id, L.ROW_ID)) is option
    assert match_option([option], None, L.fit_id(long_id, L.BUTTON_ID)) is option
