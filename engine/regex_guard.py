"""The safety screen for regular expressions written in flows (``matches``, question patterns).

Flow authors are not trusted to write fast regexes: a pattern with a repeated
group inside an unbounded repeat (``(a+)+``) can take exponential time on a
failing match. `regex_problem` says why a pattern is refused (too long,
invalid, catastrophic backtracking) — the compiler reports it as a
diagnostic — and `compile_safe_regex` compiles only patterns that pass.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from typing import Any, Callable

MAX_REGEX_LENGTH = 500  # longest pattern `matches` accepts
MAX_REGEX_SUBJECT = 4096  # `matches` looks at no more than this many characters


def regex_problem(pattern: str) -> str | None:
    """Why `matches` would refuse this pattern (too long, invalid, slow), or None."""
    if len(pattern) > MAX_REGEX_LENGTH:
        return f"regular expression longer than {MAX_REGEX_LENGTH} characters"
    try:
        with warnings.catch_warnings():  # e.g. FutureWarning "possible nested set"
            warnings.simplefilter("ignore")
            parsed = _sre_parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        return f"invalid regular expression: {exc}"
    if _has_nested_repeat(parsed):
        return "regular expression repeats a repeated group (like (a+)+), which can take exponential time"
    return None


def _sre_parse(pattern: str) -> Any:
    try:
        from re import _parser as sre_parse  # Python ≥ 3.11
    except ImportError:  # pragma: no cover
        import sre_parse  # type: ignore[no-redef]
    return sre_parse.parse(pattern)


def _sre_constants() -> Any:
    try:
        from re import _constants as c  # Python ≥ 3.11
    except ImportError:  # pragma: no cover
        import sre_constants as c  # type: ignore[no-redef]
    return c


def _has_nested_repeat(parsed: Any) -> bool:
    """True when an unbounded repeat contains another one with nothing to tell
    the iterations apart, as in ``(a+)+`` or ``(\\w+\\s?)*``: a failing match
    then tries exponentially many ways to split the text.

    An outer body with a required character the inner repeats cannot match
    (``(\\.[\\w-]+)+``, ``(\\d+,)*``) is linear and allowed. Possessive repeats
    never backtrack and are allowed.
    """
    c = _sre_constants()
    stack = [parsed]
    while stack:
        for op, av in stack.pop():
            if op in (c.MAX_REPEAT, c.MIN_REPEAT):
                body = av[2]
                if _unbounded(av[1]):
                    inner = _inner_repeats(body)
                    if inner and not _has_separator(body, inner):
                        return True
                stack.append(body)
            else:
                stack.extend(_children(op, av))
    return False


def _unbounded(hi: int) -> bool:
    return hi == _sre_constants().MAXREPEAT or hi > 100


def _children(op: Any, av: Any) -> list:
    c = _sre_constants()
    if op is c.SUBPATTERN:
        return [av[-1]]
    if op is c.BRANCH:
        return list(av[1])
    if op in (c.ASSERT, c.ASSERT_NOT, getattr(c, "ATOMIC_GROUP", None)):
        return [av[-1]] if op is not getattr(c, "ATOMIC_GROUP", None) else [av]
    if op is getattr(c, "POSSESSIVE_REPEAT", None) or op in (c.MAX_REPEAT, c.MIN_REPEAT):
        return [av[2]]
    return []


def _inner_repeats(body: Any) -> list:
    """The unbounded, backtracking repeats anywhere inside ``body``."""
    c = _sre_constants()
    found = []
    stack = [body]
    while stack:
        for op, av in stack.pop():
            if op in (c.MAX_REPEAT, c.MIN_REPEAT) and _unbounded(av[1]):
                found.append(av[2])
            if op is not getattr(c, "ATOMIC_GROUP", None):  # atomic: no backtracking inside
                stack.extend(_children(op, av))
    return found


def _has_separator(body: Any, inner: list) -> bool:
    """Whether ``body`` requires a literal character that no inner repeat can match."""
    c = _sre_constants()
    required = [av for op, av in body if op is c.LITERAL]
    for op, av in body:
        if op is c.SUBPATTERN:
            required.extend(a for o, a in av[-1] if o is c.LITERAL)
    return any(
        not any(_may_match(repeat, code) for repeat in inner) for code in required
    )


def _may_match(pattern: Any, code: int) -> bool:
    """Whether some atom of ``pattern`` could match the character ``code`` (when unsure: yes)."""
    c = _sre_constants()
    ch = chr(code)
    stack = [pattern]
    while stack:
        for op, av in stack.pop():
            if op is c.LITERAL:
                if av == code:
                    return True
            elif op is c.NOT_LITERAL:
                if av != code:
                    return True
            elif op is c.IN:
                if _in_set(av, code, ch):
                    return True
            elif op in (c.SUBPATTERN, c.BRANCH, c.MAX_REPEAT, c.MIN_REPEAT,
                        getattr(c, "POSSESSIVE_REPEAT", None), getattr(c, "ATOMIC_GROUP", None)):
                stack.extend(_children(op, av))
            elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
                continue  # zero-width
            else:  # ANY, group references, ...: could be anything
                return True
    return False


def _in_set(items: list, code: int, ch: str) -> bool:
    c = _sre_constants()
    negate = False
    hit = False
    for op, av in items:
        if op is c.NEGATE:
            negate = True
        elif op is c.LITERAL:
            hit = hit or av == code
        elif op is c.RANGE:
            hit = hit or av[0] <= code <= av[1]
        elif op is c.CATEGORY:
            test = _CATEGORY_TESTS.get(str(av))
            hit = hit or (True if test is None else test(ch))
        else:
            hit = True
    return hit != negate


_CATEGORY_TESTS: dict[str, Callable[[str], bool]] = {
    "CATEGORY_DIGIT": str.isdigit,
    "CATEGORY_NOT_DIGIT": lambda ch: not ch.isdigit(),
    "CATEGORY_SPACE": str.isspace,
    "CATEGORY_NOT_SPACE": lambda ch: not ch.isspace(),
    "CATEGORY_WORD": lambda ch: ch.isalnum() or ch == "_",
    "CATEGORY_NOT_WORD": lambda ch: not (ch.isalnum() or ch == "_"),
}


@lru_cache(maxsize=256)
def compile_safe_regex(pattern: str) -> re.Pattern[str] | None:
    if regex_problem(pattern) is not None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return re.compile(pattern)
