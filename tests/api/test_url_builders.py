"""The suite's URL builders compiled once (tests/conftest.py) build what werkzeug's own do.

tests/conftest.py compiles each route's URL builder once per session and binds the same code
to every app the tests create; these tests hold it to building, for every route of the app,
the URL that werkzeug's builder compiled for that rule alone builds.
"""

from __future__ import annotations

import uuid

from werkzeug.routing.converters import IntegerConverter, UUIDConverter
from werkzeug.routing.rules import Rule

from .route_walk import offline_app


def _value(converter) -> object:  # noqa: ANN001
    if isinstance(converter, UUIDConverter):
        return uuid.uuid4()
    if isinstance(converter, IntegerConverter):
        return 42
    return "a b/ç?#"  # quoting matters


def test_every_route_builds_the_url_werkzeugs_own_builder_builds():
    assert hasattr(Rule._compile_builder, "uncached"), "tests/conftest.py's builder cache is not installed"
    rules = list(offline_app().url_map.iter_rules())
    assert len(rules) > 100
    for rule in rules:
        values = {name: _value(rule._converters[name]) for name in rule.arguments}
        for append_unknown in (False, True):
            mine = rule._compile_builder(append_unknown).__get__(rule, None)
            theirs = Rule._compile_builder.uncached(rule, append_unknown).__get__(rule, None)
            extra = {"page_size": "2", "q": "x y"} if append_unknown else {}
            assert mine(**values, **extra) == theirs(**values, **extra), rule.rule


def test_a_second_app_reuses_the_compiled_builders():
    first, second = offline_app(), offline_app()
    rule = next(r for r in first.url_map.iter_rules() if r.arguments)
    twin = next(r for r in second.url_map.iter_rules() if r.rule == rule.rule and r.endpoint == rule.endpoint)
    assert rule._build.__func__ is twin._build.__func__
    assert rule._build.__self__ is rule and twin._build.__self__ is twin
