"""Expression evaluation speed (engine hot path): prints evaluations per second."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone

# Run as `python bench/expressions.py`: keep sibling scripts (bench/engine.py)
# from shadowing the packages of the same name.
sys.path[:] = [p for p in sys.path if not p.rstrip("/").endswith("bench")]

from compiler.expressions import parse_expression, parse_template  # noqa: E402
from engine.expressions import Scope, evaluate, render  # noqa: E402

SCOPE = Scope(
    vars={"age": 30, "name": "Ana", "items": ["pizza", "suco"], "total": 42.5},
    contact={"name": "Maria", "tags": ["vip"], "attributes": {"city": "São Paulo"}},
    message={"type": "text", "text": "quero pizza"},
    now=datetime(2026, 11, 25, 14, 30, tzinfo=timezone.utc),
)

CASES = {
    "path": ("expr", "vars.age"),
    "comparison": ("expr", "vars.age >= 18"),
    "condition": ("expr", 'vars.age >= 18 and contact.city == "São Paulo"'),
    "membership": ("expr", '"vip" in contact.tags'),
    "arithmetic": ("expr", "total * 2 + 1"),
    "template": ("tpl", "Olá {{ contact.name }}!"),
    "template+filter": ("tpl", 'Olá {{ contact.nickname | default("there") }}, total {{ total }}'),
    "function": ("expr", "upper(trim(name))"),
}


def measure(fn, ast, seconds: float = 0.4) -> float:
    n = 0
    batch = 2000
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            fn(ast, SCOPE)
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def main() -> None:
    start = time.perf_counter()
    for kind, source in CASES.values():
        (parse_template if kind == "tpl" else parse_expression)(source)
    parse_ms = (time.perf_counter() - start) * 1000
    print(f"expressions: parsed {len(CASES)} sources (incl. building the parser) in {parse_ms:.0f} ms")
    for name, (kind, source) in CASES.items():
        if kind == "tpl":
            value = {"$tpl": parse_template(source)}
            rate = measure(render, value)
        else:
            rate = measure(evaluate, parse_expression(source))
        print(f"expressions: {name:<16} {rate / 1000:8.0f}k evaluations/s   {source}")


if __name__ == "__main__":
    main()
