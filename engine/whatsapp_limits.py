"""Meta's documented limits on a WhatsApp message, and `fit`: the one place a
rendered message (``messages.content`` shape, see engine/ports.py) is made to
respect them before it becomes an outbox row.

Limits (WhatsApp Cloud API reference, developers.facebook.com/documentation/
business-messaging/whatsapp/messages/: text, image/video/document/audio/sticker,
interactive reply buttons, interactive list), in characters:

- text body ≤ 4096;
- image / video / document caption ≤ 1024; audio and sticker take no caption;
- interactive (buttons, list): body ≤ 1024 (required), header text ≤ 60,
  footer ≤ 60;
- reply buttons: 1–3, title ≤ 20 (not empty, unique in the message), id ≤ 256;
- list: button text ≤ 20, 1–10 sections, section title ≤ 24, 1–10 rows in
  all, row title ≤ 24, row description ≤ 72, row id ≤ 200.

`fit` never lets a message go out that Meta would refuse for its lengths:

- what is only displayed (titles, descriptions, header, footer, list button,
  captions) is cut to its limit and ends with "…";
- an id over its limit is cut and ends with ``~`` and 8 hex digits of its
  SHA-1 (`fit_id`): distinct ids stay distinct, and the same id always gives
  the same result, so a reply carrying it is matched back to its option
  (engine/answers.py `match_option`);
- a text over 4096 becomes several text messages, split at a paragraph, line
  or word boundary (`split_text`);
- an interactive body over 1024 goes first as text message(s); the
  interactive message keeps the body's last paragraph when that fits, else
  `CONTINUED_BODY`;
- text given with an audio or a sticker follows it as a text message;
- an empty text message is not sent; an empty button or row title shows the
  id; an empty interactive body becomes "…"; a blank header or footer is left out.

Each change is described by an adjustment ``{"field", "action", "limit"?,
"length"?}``; the engine emits them as a ``message_adjusted`` event.
Lengths are counted in Unicode code points (``len``).
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

TEXT_BODY = 4096
CAPTION = 1024
INTERACTIVE_BODY = 1024
HEADER_TEXT = 60
FOOTER_TEXT = 60
BUTTONS = 3
BUTTON_TITLE = 20
BUTTON_ID = 256
LIST_BUTTON = 20
SECTIONS = 10
SECTION_TITLE = 24
ROWS = 10
ROW_TITLE = 24
ROW_DESCRIPTION = 72
ROW_ID = 200

CAPTIONED_MEDIA = ("image", "video", "document")
UNCAPTIONED_MEDIA = ("audio", "sticker")
ELLIPSIS = "…"
CONTINUED_BODY = "👆"  # the interactive body when the whole text went just before it

# (message type, content field) -> limit: every length `fit` enforces
LIMITS: dict[tuple[str, str], int] = {
    ("text", "text"): TEXT_BODY,
    **{(media, "caption"): CAPTION for media in CAPTIONED_MEDIA},
    **{(kind, field): limit for kind in ("button", "list")
       for field, limit in (("text", INTERACTIVE_BODY), ("header", HEADER_TEXT), ("footer", FOOTER_TEXT))},
    ("button", "buttons[].title"): BUTTON_TITLE,
    ("button", "buttons[].id"): BUTTON_ID,
    ("list", "button"): LIST_BUTTON,
    ("list", "section_title"): SECTION_TITLE,
    ("list", "rows[].title"): ROW_TITLE,
    ("list", "rows[].description"): ROW_DESCRIPTION,
    ("list", "rows[].id"): ROW_ID,
}

Fitted = list[tuple[str, dict[str, Any]]]
Adjustment = dict[str, Any]

_HASH = 8  # hex digits of the id's hash kept by `fit_id`


def shorten(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, ending with "…" when it was cut."""
    if len(value) <= limit:
        return value
    return value[:limit - 1].rstrip() + ELLIPSIS


def fit_id(value: str, limit: int) -> str:
    """``value`` when it fits; else a prefix + ``~`` + 8 hex digits of its SHA-1,
    ``limit`` characters in all (stable: the same id always gives the same result)."""
    if len(value) <= limit:
        return value
    digest = hashlib.sha1(value.encode("utf-8")).hexdigest()[:_HASH]
    return value[:limit - _HASH - 1] + "~" + digest


def id_matches(option_id: Any, reply_id: str) -> bool:
    """Whether a reply's id is this option's id, as sent (possibly through `fit_id`)."""
    if option_id == reply_id:
        return True
    text = str(option_id)
    return len(text) > ROW_ID and reply_id in (fit_id(text, ROW_ID), fit_id(text, BUTTON_ID))


def split_text(text: str, limit: int = TEXT_BODY) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut at the last paragraph
    break, else line break, else space in the second half of each part; a hard
    cut only where a part has none."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit + 1]  # a boundary right after the limit still counts
        cut = -1
        for sep in ("\n\n", "\n", " "):
            at = window.rfind(sep)
            if at >= limit // 2:
                cut = at
                break
        if cut <= 0:
            cut = limit
        part = rest[:cut].rstrip()
        if not part:
            part, cut = rest[:limit], limit
        parts.append(part)
        rest = rest[cut:].lstrip()
    if rest.strip():
        parts.append(rest)
    return parts


def fit(msg_type: str, content: Mapping[str, Any]) -> tuple[Fitted, list[Adjustment]]:
    """The messages to send for one rendered message, and what was changed.

    A message within every limit comes back as it is (the same ``content``
    object) with no adjustments.
    """
    if msg_type == "text":
        return _fit_text(content)
    if msg_type in CAPTIONED_MEDIA or msg_type in UNCAPTIONED_MEDIA:
        return _fit_media(msg_type, content)
    if msg_type in ("button", "list"):
        return _fit_interactive(msg_type, content)
    return [(msg_type, content)], []  # type: ignore[list-item]  (templates and others: as they are)


def _texts(text: str, field: str, adjustments: list[Adjustment], base: Mapping[str, Any] | None = None) -> Fitted:
    parts = split_text(text, TEXT_BODY)
    if len(parts) > 1:
        adjustments.append({"field": field, "action": "split", "limit": TEXT_BODY, "length": len(text),
                            "messages": len(parts)})
    extra = {k: v for k, v in (base or {}).items() if k != "text"}
    return [("text", {**extra, "text": part}) for part in parts]


def _fit_text(content: Mapping[str, Any]) -> tuple[Fitted, list[Adjustment]]:
    text = content.get("text")
    text = "" if text is None else str(text)
    if text and len(text) <= TEXT_BODY and not text.isspace():  # the common case, no copies
        return [("text", content)], []  # type: ignore[list-item]
    adjustments: list[Adjustment] = []
    if not text or text.isspace():
        return [], [{"field": "text", "action": "dropped_empty"}]
    return _texts(text, "text", adjustments, content), adjustments


def _fit_media(msg_type: str, content: Mapping[str, Any]) -> tuple[Fitted, list[Adjustment]]:
    caption = content.get("caption")
    if not caption:
        return [(msg_type, content)], []  # type: ignore[list-item]
    caption = str(caption)
    if msg_type in CAPTIONED_MEDIA:
        if len(caption) <= CAPTION:
            return [(msg_type, content)], []  # type: ignore[list-item]
        adjustment = {"field": "caption", "action": "shortened", "limit": CAPTION, "length": len(caption)}
        return [(msg_type, {**content, "caption": shorten(caption, CAPTION)})], [adjustment]
    # audio / sticker: Meta takes no caption; the text follows as its own message
    adjustments: list[Adjustment] = [{"field": "caption", "action": "moved_to_text", "length": len(caption)}]
    media = {k: v for k, v in content.items() if k != "caption"}
    return [(msg_type, media)] + _texts(caption, "caption", adjustments), adjustments


def _shorten_field(out: dict[str, Any], key: str, limit: int, field: str, adjustments: list[Adjustment]) -> None:
    value = out.get(key)
    if value is None:
        return
    value = str(value)
    if len(value) > limit:
        adjustments.append({"field": field, "action": "shortened", "limit": limit, "length": len(value)})
        out[key] = shorten(value, limit)


def _fit_id(out: dict[str, Any], limit: int, field: str, adjustments: list[Adjustment]) -> None:
    value = str(out.get("id", ""))
    if len(value) > limit:
        adjustments.append({"field": field, "action": "id_shortened", "limit": limit, "length": len(value)})
        out["id"] = fit_id(value, limit)


def _within(msg_type: str, c: Mapping[str, Any]) -> bool:
    """The common case, checked cheaply: every length of an interactive message fits."""
    if not _shown(c.get("text"), INTERACTIVE_BODY):
        return False
    for key, limit in (("header", HEADER_TEXT), ("footer", FOOTER_TEXT)):
        if c.get(key) and not _shown(c[key], limit):
            return False
    if msg_type == "button":
        return all(_shown(b.get("title"), BUTTON_TITLE) and len(str(b.get("id", ""))) <= BUTTON_ID
                   for b in c.get("buttons") or ()) and _unique_titles(c.get("buttons") or ())
    if len(str(c.get("button") or "")) > LIST_BUTTON or len(str(c.get("section_title") or "")) > SECTION_TITLE:
        return False
    return all(_shown(r.get("title"), ROW_TITLE) and len(str(r.get("id", ""))) <= ROW_ID
               and len(str(r.get("description") or "")) <= ROW_DESCRIPTION for r in c.get("rows") or ())


def _shown(value: Any, limit: int) -> bool:
    """A required displayed text that Meta takes: not empty or blank, within ``limit``."""
    if not value:
        return False
    text = str(value)
    return len(text) <= limit and not text.isspace()


def _unique_titles(buttons: Any) -> bool:
    titles = [b.get("title") for b in buttons]
    return len(set(titles)) == len(titles)


def _fit_interactive(msg_type: str, content: Mapping[str, Any]) -> tuple[Fitted, list[Adjustment]]:
    if _within(msg_type, content):
        return [(msg_type, content)], []  # type: ignore[list-item]
    adjustments: list[Adjustment] = []
    out = dict(content)
    before: Fitted = []
    body = str(out.get("text") or "")
    if not body.strip():
        adjustments.append({"field": "text", "action": "filled_empty"})
        out["text"] = ELLIPSIS
    elif len(body) > INTERACTIVE_BODY:
        head, _, tail = body.rstrip().rpartition("\n")
        if head.strip() and tail.strip() and len(tail.strip()) <= INTERACTIVE_BODY:
            pre, short = head.rstrip(), tail.strip()
        else:
            pre, short = body, CONTINUED_BODY
        adjustments.append({"field": "text", "action": "moved_to_text", "limit": INTERACTIVE_BODY,
                            "length": len(body)})
        before = _texts(pre, "text", adjustments)
        out["text"] = short
    for key, limit in (("header", HEADER_TEXT), ("footer", FOOTER_TEXT)):
        if key in out and not str(out[key] or "").strip():  # a blank header/footer is left out
            if out[key]:
                adjustments.append({"field": key, "action": "dropped_empty"})
            del out[key]
        _shorten_field(out, key, limit, key, adjustments)
    if msg_type == "button":
        buttons = [dict(b) for b in out.get("buttons") or ()]
        for i, b in enumerate(buttons):
            _fit_id(b, BUTTON_ID, f"buttons[{i}].id", adjustments)
            _title(b, BUTTON_TITLE, f"buttons[{i}].title", adjustments)
        _dedupe_titles(buttons, adjustments)
        out["buttons"] = buttons
    else:
        _shorten_field(out, "button", LIST_BUTTON, "button", adjustments)
        _shorten_field(out, "section_title", SECTION_TITLE, "section_title", adjustments)
        rows = [dict(r) for r in out.get("rows") or ()]
        for i, r in enumerate(rows):
            _fit_id(r, ROW_ID, f"rows[{i}].id", adjustments)
            _title(r, ROW_TITLE, f"rows[{i}].title", adjustments)
            _shorten_field(r, "description", ROW_DESCRIPTION, f"rows[{i}].description", adjustments)
        out["rows"] = rows
    return before + [(msg_type, out)], adjustments


def _title(item: dict[str, Any], limit: int, field: str, adjustments: list[Adjustment]) -> None:
    title = str(item.get("title") or "").strip()
    if not title:
        adjustments.append({"field": field, "action": "filled_empty"})
        item["title"] = shorten(str(item.get("id", "")), limit) or ELLIPSIS
        return
    _shorten_field(item, "title", limit, field, adjustments)


def _dedupe_titles(buttons: list[dict[str, Any]], adjustments: list[Adjustment]) -> None:
    """Meta refuses two reply buttons with one title: number the later ones."""
    seen: set[str] = set()
    for i, b in enumerate(buttons):
        title = b["title"]
        n = 2
        while title in seen:
            suffix = f" {n}"
            title = b["title"][:BUTTON_TITLE - len(suffix)].rstrip() + suffix
            n += 1
        if title != b["title"]:
            adjustments.append({"field": f"buttons[{i}].title", "action": "made_unique"})
            b["title"] = title
        seen.add(title)
