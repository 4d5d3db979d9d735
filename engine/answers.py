"""Validation of a customer's answer to a `question` node.

Each ``parse_*`` returns the value to store, or raises ``InvalidAnswer``. The
rules are the ones flow_schemas/README.md documents for ``validation``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from typing import Any, Mapping, Sequence

from engine.whatsapp_limits import id_matches

MAX_REGEX_INPUT = 1000  # characters: bounds the work a (checked) pattern can do
MAX_ANSWER = 4096


class InvalidAnswer(ValueError):
    pass


def normalize(text: str) -> str:
    """Case-, accent- and spacing-insensitive form used to compare typed titles."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def parse_text(text: str, min_len: Any = None, max_len: Any = None) -> str:
    value = text.strip()
    if not value:
        raise InvalidAnswer("empty answer")
    if min_len is not None and len(value) < min_len:
        raise InvalidAnswer("too short")
    if max_len is not None and len(value) > max_len:
        raise InvalidAnswer("too long")
    return value


_NUMBER = re.compile(r"[+-]?\d+")


def parse_number(text: str, minimum: Any = None, maximum: Any = None) -> int | float:
    """Accepts ``42``, ``-3``, ``1.5``, ``1,5``, ``1.234,56``, ``1,234.56``, ``1.234.567``.

    With both separators the last one is the decimal mark; a lone comma is a
    decimal comma (pt-BR); several equal separators are thousands separators.
    """
    s = text.strip().replace(" ", "").replace("\u00a0", "")
    if not s or len(s) > 64:
        raise InvalidAnswer("not a number")
    sign = ""
    if s[0] in "+-":
        sign, s = s[0], s[1:]
    if not s or not (s[0].isdigit() or s[0] in ".,"):
        raise InvalidAnswer("not a number")
    commas, dots = s.count(","), s.count(".")
    if commas and dots:
        dec, thou = (",", ".") if s.rfind(",") > s.rfind(".") else (".", ",")
        if s.count(dec) > 1:
            raise InvalidAnswer("not a number")
        intpart, frac = s.split(dec)
        _check_grouping(intpart, thou)
        s = intpart.replace(thou, "") + "." + frac
    elif commas > 1 or dots > 1:
        sep = "," if commas else "."
        _check_grouping(s, sep)
        s = s.replace(sep, "")
    elif commas == 1:
        s = s.replace(",", ".")
    if not re.fullmatch(r"\d*\.?\d*", s) or s in ("", "."):
        raise InvalidAnswer("not a number")
    value: int | float = float(sign + s) if "." in s else int(sign + s)
    if isinstance(value, float) and value != value:  # pragma: no cover - NaN cannot parse here
        raise InvalidAnswer("not a number")
    if minimum is not None and value < minimum:
        raise InvalidAnswer("below minimum")
    if maximum is not None and value > maximum:
        raise InvalidAnswer("above maximum")
    return value


def _check_grouping(intpart: str, sep: str) -> None:
    groups = intpart.split(sep)
    if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
        raise InvalidAnswer("not a number")


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]{2,}")


def parse_email(text: str) -> str:
    value = text.strip().lower()
    if len(value) > 254 or not _EMAIL.fullmatch(value) or ".." in value:
        raise InvalidAnswer("not an e-mail address")
    return value


def parse_phone(text: str, default_country: str = "55") -> str:
    """To E.164. ``+55 11 98765-4321``, ``(11) 98765-4321``, ``011 98765-4321``."""
    s = text.strip()
    if not s or len(s) > 32 or not re.fullmatch(r"[+\d\s().\-]+", s):
        raise InvalidAnswer("not a phone number")
    international = s.startswith("+")
    digits = re.sub(r"\D", "", s)
    if not international and digits.startswith("00"):
        international, digits = True, digits[2:]
    if not international:
        digits = digits.lstrip("0")
        if default_country == "55":
            if len(digits) in (12, 13) and digits.startswith("55"):
                digits = digits[2:]
            if len(digits) not in (10, 11) or digits[0] == "0":
                raise InvalidAnswer("not a phone number")
        elif digits.startswith(default_country) and len(digits) > 10:
            digits = digits[len(default_country):]
        digits = default_country + digits
    if not 8 <= len(digits) <= 15 or digits[0] == "0":
        raise InvalidAnswer("not a phone number")
    if digits.startswith("55") and len(digits) not in (12, 13):
        raise InvalidAnswer("not a phone number")
    return "+" + digits


_TODAY = {"hoje", "today"}
_TOMORROW = {"amanha", "tomorrow"}
_DATE_FORMATS = (
    (re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})"), "dmy"),
    (re.compile(r"(\d{1,2})-(\d{1,2})-(\d{4})"), "dmy"),
    (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"), "ymd"),
    (re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2})"), "dmy2"),
)


def parse_date(text: str, today: dt.date) -> str:
    s = text.strip()
    word = normalize(s)
    if word in _TODAY:
        return today.isoformat()
    if word in _TOMORROW:
        return (today + dt.timedelta(days=1)).isoformat()
    for pattern, order in _DATE_FORMATS:
        m = pattern.fullmatch(s)
        if not m:
            continue
        a, b, c = (int(g) for g in m.groups())
        if order == "ymd":
            y, mo, d = a, b, c
        else:
            d, mo, y = a, b, c
            if order == "dmy2":
                y += 2000 if 2000 + y <= today.year + 20 else 1900
        try:
            return dt.date(y, mo, d).isoformat()
        except ValueError:
            raise InvalidAnswer("no such date") from None
    raise InvalidAnswer("not a date")


def match_option(
    options: Sequence[Mapping[str, Any]], text: str | None, reply_id: str | None
) -> Mapping[str, Any]:
    """By reply id, by typed title or by typed 1-based number; then by a word (or run of
    words) of exactly one title ("Grande" for "Grande (8 fatias)"), then by the start of
    exactly one title ("gra"). An answer that fits several options matches none."""
    if reply_id is not None:
        for opt in options:
            if id_matches(opt.get("id"), reply_id):  # as sent: an over-long id went through fit_id
                return opt
    if text:
        typed = normalize(text)
        titles = [normalize(str(opt.get("title", ""))) for opt in options]
        for opt, title in zip(options, titles):
            if title == typed:
                return opt
        if typed.isdigit() and 1 <= int(typed) <= len(options):
            return options[int(typed) - 1]
        words = " ".join(_WORD.findall(typed))
        if words:
            found = _only([o for o, t in zip(options, titles) if f" {words} " in f" {' '.join(_WORD.findall(t))} "])
            if found is None and len(words) >= MIN_PREFIX:
                found = _only([o for o, t in zip(options, titles) if t.startswith(typed)])
            if found is not None:
                return found
    raise InvalidAnswer("not one of the options")


_WORD = re.compile(r"\w+")
MIN_PREFIX = 3  # typed characters before the start of a title can pick it


def _only(matches: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return matches[0] if len(matches) == 1 else None


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def parse_regex(text: str, pattern: str) -> str:
    value = text.strip()
    if len(value) > MAX_REGEX_INPUT:
        raise InvalidAnswer("too long")
    try:
        compiled = _compiled(pattern)
    except re.error:
        raise InvalidAnswer("the pattern is not valid") from None
    if not compiled.fullmatch(value):
        raise InvalidAnswer("does not match")
    return value
