"""The function library of the expression language: ``FUNCTIONS`` (name → `Function`).

Text, numbers, emptiness, dates and ``matches``. Each function gets the
`Scope` and its evaluated arguments; given data it cannot use it returns None
(the evaluator also turns TypeError/ValueError/... into None). The compiler
checks calls against this table, so it is the one source of truth for names
and arities; the docstrings' first lines are the reference text.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from engine.regex_guard import MAX_REGEX_SUBJECT, compile_safe_regex
from engine.values import (
    MAX_STRING_LENGTH,
    EvaluationError,
    capped,
    clean_number,
    contains,
    strict_number,
    to_text,
)

if TYPE_CHECKING:
    from engine.expressions import Scope

__all__ = ["FUNCTIONS", "Function", "parse_number"]


class Function(NamedTuple):
    """A callable of the language: ``(min_arity, max_arity, impl)``.

    ``max_arity`` None means any number. ``impl(scope, *args)`` gets the
    evaluated arguments; its docstring (first line: the signature) is the
    reference text.
    """

    min_arity: int
    max_arity: int | None
    impl: Callable[..., Any]

    @property
    def doc(self) -> str:
        return (self.impl.__doc__ or "").strip()


FUNCTIONS: dict[str, Function] = {}


def _function(name: str, min_arity: int, max_arity: int | None = -1) -> Callable:
    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[name] = Function(min_arity, min_arity if max_arity == -1 else max_arity, impl)
        return impl

    return register


def _text_or_none(value: Any) -> str | None:
    return None if value is None else to_text(value)


# -- text --------------------------------------------------------------------


@_function("lower", 1)
def _lower(scope: Scope, s: Any) -> Any:
    """lower(s): s in lower case; null stays null."""
    text = _text_or_none(s)
    return None if text is None else text.lower()


@_function("upper", 1)
def _upper(scope: Scope, s: Any) -> Any:
    """upper(s): s in upper case; null stays null."""
    text = _text_or_none(s)
    return None if text is None else text.upper()


@_function("trim", 1)
def _trim(scope: Scope, s: Any) -> Any:
    """trim(s): s without leading/trailing whitespace; null stays null."""
    text = _text_or_none(s)
    return None if text is None else text.strip()


@_function("len", 1)
def _len(scope: Scope, x: Any) -> Any:
    """len(x): characters of a string, items of a list or object; null → 0; else null."""
    if x is None:
        return 0
    if isinstance(x, (str, list, dict, tuple)):
        return len(x)
    return None


@_function("contains", 2)
def _contains_fn(scope: Scope, haystack: Any, needle: Any) -> Any:
    """contains(x, item): like `item in x` (substring of a string, member of a list)."""
    return contains(haystack, needle)


@_function("starts_with", 2)
def _starts_with(scope: Scope, s: Any, prefix: Any) -> Any:
    """starts_with(s, prefix): true when the text s begins with prefix (case-sensitive)."""
    if s is None or prefix is None:
        return False
    return to_text(s).startswith(to_text(prefix))


@_function("ends_with", 2)
def _ends_with(scope: Scope, s: Any, suffix: Any) -> Any:
    """ends_with(s, suffix): true when the text s ends with suffix (case-sensitive)."""
    if s is None or suffix is None:
        return False
    return to_text(s).endswith(to_text(suffix))


_NUMBER_CHARS = re.compile(r"[-+]?[\d.,]*\d[\d.,]*\Z")
_NUMBER_NOISE = re.compile(r"[\s\u00a0]|R\$|US\$|[$€£%]")


def parse_number(value: Any) -> int | float | None:
    """Read a number the way people type it ("1.234,56", "1,234.56", "R$ 10", "42")."""
    t = type(value)
    if t is int or t is float:
        return clean_number(value)
    if t is not str or len(value) > 100:
        return None
    s = _NUMBER_NOISE.sub("", value)
    if not _NUMBER_CHARS.match(s):
        return None
    sign = ""
    if s[0] in "+-":
        sign, s = s[0], s[1:]
    dots, commas = s.count("."), s.count(",")
    if dots and commas:
        decimal_sep = "." if s.rfind(".") > s.rfind(",") else ","
        thousands = "," if decimal_sep == "." else "."
        if s.count(decimal_sep) > 1:
            return None
        whole, frac = s.split(decimal_sep)
        whole = whole.replace(thousands, "")
    elif dots > 1 or commas > 1:  # 1.234.567 / 1,234,567: thousands only
        whole, frac = s.replace(".", "").replace(",", ""), ""
    elif dots or commas:  # one separator: a decimal point/comma ("1,5", "2.75")
        whole, _, frac = s.replace(",", ".").partition(".")
    else:
        whole, frac = s, ""
    if not whole.isdigit() and whole != "":
        return None
    if frac and not frac.isdigit():
        return None
    if whole == "" and frac == "":
        return None
    if frac:
        return clean_number(float(f"{sign}{whole or '0'}.{frac}"))
    return clean_number(int(sign + whole))


@_function("number", 1)
def _number(scope: Scope, x: Any) -> Any:
    """number(x): a number from x; accepts "1.234,56", "1,234.56", "1,5", "R$ 10"; null on failure."""
    if type(x) is bool:
        return None
    return parse_number(x)


@_function("text", 1)
def _text(scope: Scope, x: Any) -> Any:
    """text(x): x as it would appear in a template (null → "", 3.0 → "3", lists as JSON)."""
    return capped(to_text(x))


@_function("replace", 3)
def _replace(scope: Scope, s: Any, old: Any, new: Any) -> Any:
    """replace(s, old, new): s with every occurrence of old replaced by new."""
    if s is None:
        return None
    text, a, b = to_text(s), to_text(old), to_text(new)
    if not a:
        return text
    if b and len(text) + text.count(a) * max(0, len(b) - len(a)) > MAX_STRING_LENGTH:
        raise EvaluationError(f"text result longer than {MAX_STRING_LENGTH} characters")
    return text.replace(a, b)


@_function("split", 1, 2)
def _split(scope: Scope, s: Any, sep: Any = None) -> Any:
    """split(s, sep): list of the parts of s between sep (whitespace when sep is omitted)."""
    if s is None:
        return []
    text = to_text(s)
    if sep is None:
        return text.split()
    separator = to_text(sep)
    if not separator:
        return list(text)
    return text.split(separator)


@_function("join", 1, 2)
def _join(scope: Scope, items: Any, sep: Any = ", ") -> Any:
    """join(list, sep): the items as text joined by sep (default ", ")."""
    if items is None:
        return ""
    if type(items) is not list and type(items) is not tuple:
        return to_text(items)
    return capped(to_text(sep).join(to_text(item) for item in items))




@_function("matches", 2)
def _matches(scope: Scope, s: Any, pattern: Any) -> Any:
    """matches(s, regex): true when regex (Python syntax) matches somewhere in s; null s → false."""
    if s is None or type(pattern) is not str:
        return False
    compiled = compile_safe_regex(pattern)
    if compiled is None:
        return False
    return compiled.search(to_text(s)[:MAX_REGEX_SUBJECT]) is not None


# -- numbers -----------------------------------------------------------------


@_function("round", 1, 2)
def _round(scope: Scope, x: Any, digits: Any = 0) -> Any:
    """round(x, n): x rounded half away from zero to n decimals (default 0 → an integer)."""
    number = strict_number(x)
    places = strict_number(digits)
    if number is None or type(places) is not int:
        return None
    places = max(0, min(places, 15))
    quantum = Decimal(1).scaleb(-places)
    rounded = Decimal(repr(number) if type(number) is float else number).quantize(
        quantum, rounding=ROUND_HALF_UP
    )
    return clean_number(int(rounded) if places == 0 else float(rounded))


# locale → (thousands separator, decimal mark, minimum digits before grouping starts)
_NUMBER_LOCALES = {
    "pt-br": (".", ",", 4), "pt-pt": (" ", ",", 5), "pt": (".", ",", 4),
    "en-us": (",", ".", 4), "en-gb": (",", ".", 4), "en": (",", ".", 4),
    "es-es": (".", ",", 5), "es-mx": (",", ".", 4), "es-ar": (".", ",", 4), "es": (".", ",", 5),
    "fr-fr": (" ", ",", 4), "fr": (" ", ",", 4), "de-de": (".", ",", 4), "de": (".", ",", 4),
    "it-it": (".", ",", 5), "it": (".", ",", 5),
}
# currency → symbol; placement: "before" ("R$ 10,00", "$10.00") or "after" ("10,00 €") per locale language
_CURRENCY_SYMBOLS = {"BRL": "R$", "USD": "US$", "EUR": "€", "GBP": "£", "MXN": "$", "ARS": "$",
                     "CLP": "$", "COP": "$", "PEN": "S/", "UYU": "$U", "PYG": "₲", "BOB": "Bs", "JPY": "¥"}
_CURRENCY_DECIMALS = {"JPY": 0, "CLP": 0, "PYG": 0}
_SYMBOL_AFTER = {"es-es", "es", "pt-pt", "fr-fr", "fr", "de-de", "de", "it-it", "it"}
_HOME_SYMBOLS = {("en-us", "USD"): "$", ("en", "USD"): "$", ("es-mx", "MXN"): "$"}


def _locale_key(locale: Any) -> str | None:
    if type(locale) is not str:
        return None
    key = locale.strip().replace("_", "-").lower()
    return key if key in _NUMBER_LOCALES else None


def _grouped(number: int | float, decimals: int, locale: str) -> str:
    thousands, mark, min_digits = _NUMBER_LOCALES[locale]
    quantum = Decimal(1).scaleb(-decimals)
    value = Decimal(repr(number) if type(number) is float else number).quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    whole, _, frac = f"{abs(value):f}".partition(".")
    if len(whole) >= min_digits:
        whole = f"{int(whole):,}".replace(",", thousands)
    return sign + whole + (mark + frac if decimals else "")


@_function("format_number", 1, 3)
def _format_number(scope: Scope, x: Any, decimals: Any = None, locale: Any = "pt-BR") -> Any:
    """format_number(x, decimals, locale): x grouped and with the decimal mark of locale (default "pt-BR"); decimals default: as needed, up to 2."""
    number = strict_number(x)
    key = _locale_key(locale)
    if number is None or key is None:
        return None
    if decimals is None:
        places = 0 if type(number) is int or float(number).is_integer() else 2
        text = _grouped(number, places, key)
        if places:
            mark = _NUMBER_LOCALES[key][1]
            text = text.rstrip("0").rstrip(mark) if mark in text else text
        return text
    if type(decimals) is not int or not 0 <= decimals <= 15:
        return None
    return _grouped(number, decimals, key)


@_function("format_currency", 1, 3)
def _format_currency(scope: Scope, x: Any, currency: Any = "BRL", locale: Any = "pt-BR") -> Any:
    """format_currency(x, currency, locale): money as the locale writes it ("R$ 1.234,50"; default BRL, "pt-BR")."""
    number = strict_number(x)
    key = _locale_key(locale)
    if number is None or key is None or type(currency) is not str or not re.fullmatch(r"[A-Za-z]{3}", currency):
        return None
    code = currency.upper()
    amount = _grouped(number, _CURRENCY_DECIMALS.get(code, 2), key)
    symbol = _HOME_SYMBOLS.get((key, code)) or _CURRENCY_SYMBOLS.get(code, code)
    sign, amount = ("-", amount[1:]) if amount.startswith("-") else ("", amount)
    if key in _SYMBOL_AFTER:
        return f"{sign}{amount} {symbol}"
    if key.startswith("en") and len(symbol) <= 1:
        return f"{sign}{symbol}{amount}"
    return f"{sign}{symbol} {amount}"


@_function("abs", 1)
def _abs(scope: Scope, x: Any) -> Any:
    """abs(x): the absolute value of a number."""
    number = strict_number(x)
    return None if number is None else abs(number)


def _extreme(pick: Callable[..., Any], args: tuple) -> Any:
    values = args[0] if len(args) == 1 and type(args[0]) is list else args
    numbers = []
    for v in values:
        if v is None:
            continue
        n = strict_number(v)
        if n is None:
            return None
        numbers.append(n)
    return pick(numbers) if numbers else None


@_function("min", 1, None)
def _min(scope: Scope, *args: Any) -> Any:
    """min(a, b, ...) or min(list): the smallest number (nulls skipped; null if none)."""
    return _extreme(min, args)


@_function("max", 1, None)
def _max(scope: Scope, *args: Any) -> Any:
    """max(a, b, ...) or max(list): the largest number (nulls skipped; null if none)."""
    return _extreme(max, args)


# -- emptiness ---------------------------------------------------------------


def _empty(x: Any) -> bool:
    if x is None:
        return True
    if type(x) is str:
        return not x.strip()
    if type(x) in (list, dict, tuple):
        return not x
    return False


@_function("default", 2)
def _default(scope: Scope, x: Any, fallback: Any) -> Any:
    """default(x, fallback): fallback when x is null or "", else x. As a filter: x | default("there")."""
    if x is None or x == "":
        return fallback
    return x


@_function("is_empty", 1)
def _is_empty(scope: Scope, x: Any) -> Any:
    """is_empty(x): true for null, blank text, [] and {}."""
    return _empty(x)


@_function("coalesce", 1, None)
def _coalesce(scope: Scope, *args: Any) -> Any:
    """coalesce(a, b, ...): the first argument that is not null."""
    for value in args:
        if value is not None:
            return value
    return None


# -- dates -------------------------------------------------------------------

_DATE_PATTERNS = (
    (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})\Z"), "ymd"),
    (re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\Z"), "dmy"),
    (re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2})\Z"), "dmy2"),
)
_RELATIVE_DAYS = {
    "hoje": 0, "today": 0,
    "amanha": 1, "amanhã": 1, "tomorrow": 1,
    "ontem": -1, "yesterday": -1,
}


def _local_now(scope: Scope) -> datetime:
    now = scope.now
    return now if isinstance(now, datetime) else datetime.now(timezone.utc)


def _in_flow_zone(moment: datetime, scope: Scope) -> datetime:
    """A date-time in the zone of ``scope.now`` (naive ones are taken to be in it)."""
    tz = _local_now(scope).tzinfo
    if tz is None:
        if moment.tzinfo is None:
            return moment
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=tz)
    return moment.astimezone(tz)


def _parse_when(value: Any, scope: Scope) -> date | datetime | None:
    """A date or date-time (in the flow's zone) from ISO text, DD/MM/YYYY, DD-MM-YYYY,
    DD.MM.YYYY, DD/MM/YY or a word (hoje/today, amanhã/tomorrow, ontem/yesterday)."""
    if isinstance(value, datetime):
        return _in_flow_zone(value, scope)
    if isinstance(value, date):
        return value
    if type(value) is not str or len(value) > 64:
        return None
    s = value.strip()
    relative = _RELATIVE_DAYS.get(s.lower())
    if relative is not None:
        return _local_now(scope).date() + timedelta(days=relative)
    for pattern, kind in _DATE_PATTERNS:
        m = pattern.match(s)
        if m:
            a, b, c = (int(g) for g in m.groups())
            if kind == "ymd":
                return date(a, b, c)
            if kind == "dmy":
                return date(c, b, a)
            return date(2000 + c if c < 70 else 1900 + c, b, a)
    if len(s) >= 11 and s[4] == "-" and s[10] in "Tt ":
        text = s[:-1] + "+00:00" if s[-1] in "Zz" else s
        return _in_flow_zone(datetime.fromisoformat(text), scope)
    return None


def _date_text(when: date | datetime) -> str:
    if isinstance(when, datetime):
        return when.replace(microsecond=0).isoformat()
    return when.isoformat()


@_function("now", 0)
def _now(scope: Scope) -> Any:
    """now(): the current date and time, ISO 8601 ("2026-11-25T14:30:00-03:00")."""
    return _date_text(_local_now(scope))


@_function("today", 0)
def _today(scope: Scope) -> Any:
    """today(): the current date, ISO ("2026-11-25")."""
    return _local_now(scope).date().isoformat()


@_function("date", 1)
def _date(scope: Scope, s: Any) -> Any:
    """date(s): ISO date "YYYY-MM-DD" from "2026-11-25", "25/11/2026", "25-11-2026", "25/11/26", "hoje"...; null if unreadable."""
    when = _parse_when(s, scope)
    if when is None:
        return None
    if isinstance(when, datetime):
        when = when.date()
    return when.isoformat()


_UNITS = {
    "second": "seconds", "seconds": "seconds", "segundo": "seconds", "segundos": "seconds",
    "minute": "minutes", "minutes": "minutes", "minuto": "minutes", "minutos": "minutes",
    "hour": "hours", "hours": "hours", "hora": "hours", "horas": "hours",
    "day": "days", "days": "days", "dia": "days", "dias": "days",
    "week": "weeks", "weeks": "weeks", "semana": "weeks", "semanas": "weeks",
    "month": "months", "months": "months", "mes": "months", "mês": "months", "meses": "months",
    "year": "years", "years": "years", "ano": "years", "anos": "years",
}
_TIME_UNITS = {"seconds", "minutes", "hours"}


def _add_months(when: date | datetime, months: int) -> date | datetime:
    index = when.year * 12 + (when.month - 1) + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise OverflowError("date out of range")
    day = min(when.day, calendar.monthrange(year, month + 1)[1])
    return when.replace(year=year, month=month + 1, day=day)


@_function("date_add", 2, 3)
def _date_add(scope: Scope, when: Any, amount: Any, unit: Any = "days") -> Any:
    """date_add(date, n, unit): date moved by n units (days, weeks, months, years, hours, minutes, seconds; default days).

    A date stays a date for day-or-longer units; adding hours/minutes to a
    date starts from its midnight and gives a date-time. Month ends clamp
    (31 Jan + 1 month = 28/29 Feb).
    """
    start = _parse_when(when, scope)
    n = strict_number(amount)
    canonical = _UNITS.get(to_text(unit).strip().lower())
    if start is None or n is None or canonical is None:
        return None
    if canonical in ("months", "years"):
        if type(n) is not int:
            return None
        result = _add_months(start, n * 12 if canonical == "years" else n)
    else:
        if canonical in _TIME_UNITS and not isinstance(start, datetime):
            start = _in_flow_zone(datetime(start.year, start.month, start.day), scope)
        result = start + timedelta(**{canonical: n})
    return _date_text(result)


@_function("date_diff", 2, 3)
def _date_diff(scope: Scope, a: Any, b: Any, unit: Any = "days") -> Any:
    """date_diff(a, b, unit): whole units from a to b (b − a), truncated toward zero; default days."""
    start, end = _parse_when(a, scope), _parse_when(b, scope)
    canonical = _UNITS.get(to_text(unit).strip().lower())
    if start is None or end is None or canonical is None:
        return None
    if isinstance(start, datetime) != isinstance(end, datetime):  # a date counts from midnight
        if not isinstance(start, datetime):
            start = _in_flow_zone(datetime(start.year, start.month, start.day), scope)
        if not isinstance(end, datetime):
            end = _in_flow_zone(datetime(end.year, end.month, end.day), scope)
    if canonical in ("months", "years"):
        sign = 1 if end >= start else -1
        lo, hi = (start, end) if sign == 1 else (end, start)
        months = (hi.year - lo.year) * 12 + (hi.month - lo.month)
        if _add_months(lo, months) > hi:
            months -= 1
        return sign * (months // 12 if canonical == "years" else months)
    seconds = (end - start).total_seconds()
    size = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}[canonical]
    return int(seconds / size)


_DATE_TOKENS = re.compile(r"YYYY|YY|MM|DD|HH|mm|ss")


@_function("format_date", 1, 2)
def _format_date(scope: Scope, when: Any, fmt: Any = "DD/MM/YYYY") -> Any:
    """format_date(date, fmt): date as text; tokens YYYY YY MM DD HH mm ss (default "DD/MM/YYYY")."""
    value = _parse_when(when, scope)
    if value is None or type(fmt) is not str or len(fmt) > 200:
        return None
    hour = getattr(value, "hour", 0)
    minute = getattr(value, "minute", 0)
    second = getattr(value, "second", 0)
    fields = {
        "YYYY": f"{value.year:04d}",
        "YY": f"{value.year % 100:02d}",
        "MM": f"{value.month:02d}",
        "DD": f"{value.day:02d}",
        "HH": f"{hour:02d}",
        "mm": f"{minute:02d}",
        "ss": f"{second:02d}",
    }
    return _DATE_TOKENS.sub(lambda m: fields[m.group(0)], fmt)
