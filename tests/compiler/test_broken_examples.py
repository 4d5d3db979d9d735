"""examples/broken/: one canvas per diagnostic code, each triggering exactly that code."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler import KnownTemplate
from compiler.diagnostics import CODES
from pytake.commands.lint import FlowFolder, lint_file

BROKEN = Path(__file__).resolve().parents[2] / "examples" / "broken"
DEPARTMENTS = {"Suporte", "Vendas"}  # the organization's, for unknown-department
TEMPLATES = [KnownTemplate("order_shipped", "pt_BR", "APPROVED", parameters=2),  # for the template-* codes
             KnownTemplate("spring_sale", "pt_BR", "PENDING", parameters=0, header="IMAGE")]


def test_every_code_has_a_broken_example() -> None:
    assert sorted(p.stem for p in BROKEN.glob("*.json")) == sorted(CODES)


@pytest.mark.parametrize("code", sorted(CODES))
def test_broken_example_triggers_exactly_its_code(code: str) -> None:
    path = BROKEN / f"{code}.json"
    diags = lint_file(path, FlowFolder(path.parent), DEPARTMENTS, TEMPLATES)  # the folder's flows, as lint reads them
    assert {d.code for d in diags} == {code}, [(d.code, d.message) for d in diags]
    assert all(d.severity == CODES[code].severity for d in diags)
