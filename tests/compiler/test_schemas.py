"""The JSON Schemas in flow_schemas/: valid 2020-12, and the documented examples pass them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from compiler.load import NODE_SCHEMAS
from compiler.node_types import NODE_TYPES

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "flow_schemas"
CASES = Path(__file__).resolve().parent / "cases"


def _readme_examples() -> list:
    """Every ```json block under a node type's heading in flow_schemas/README.md."""
    text = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    params = []
    for match in re.finditer(r"### `(\w+)`(.*?)(?=\n### |\n## |\Z)", text, re.S):
        node_type, body = match.groups()
        for i, block in enumerate(re.findall(r"```json\n(.*?)```", body, re.S)):
            params.append(pytest.param(node_type, json.loads(block), id=f"{node_type}-{i}"))
    return params


@pytest.mark.parametrize("path", sorted(SCHEMAS.rglob("*.schema.json")), ids=lambda p: p.name)
def test_schema_is_valid_json_schema_2020_12(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(document)


def test_there_is_one_schema_per_node_type() -> None:
    assert sorted(p.name.removesuffix(".schema.json") for p in (SCHEMAS / "nodes").glob("*.schema.json")) == sorted(NODE_TYPES)


@pytest.mark.parametrize("node_type", NODE_TYPES)
def test_schema_examples_are_valid(node_type: str) -> None:
    document = json.loads((SCHEMAS / "nodes" / f"{node_type}.schema.json").read_text(encoding="utf-8"))
    validator = Draft202012Validator(document)
    for example in document.get("examples", []):
        assert list(validator.iter_errors(example)) == []


@pytest.mark.parametrize(("node_type", "example"), _readme_examples())
def test_readme_examples_are_valid(node_type: str, example: dict) -> None:
    data = example["data"] if {"id", "type", "data"} <= set(example) else example
    assert NODE_SCHEMAS[node_type].errors(data) == []


def test_readme_shows_an_example_for_every_node_type() -> None:
    assert {p.values[0] for p in _readme_examples()} == set(NODE_TYPES)


def _schema_md_examples() -> list:
    """SCHEMA.md's `nodes.content` examples; elided values ("...", [...], {...}) get the simplest real value."""
    doc = json.loads((CASES / "schema_md_content_examples.json").read_text(encoding="utf-8"))
    params = []
    for line in doc["lines"]:
        node_type, example = re.fullmatch(r"-- (\w+): (.*)", line.strip()).groups()
        example = example.replace('"..."', '"https://example.com/"').replace("[...]", "[]").replace("{...}", "{}")
        params.append(pytest.param(node_type, json.loads(example), id=node_type))
    return params


@pytest.mark.parametrize(("node_type", "content"), _schema_md_examples())
def test_schema_md_node_content_examples_are_valid(node_type: str, content: dict) -> None:
    assert NODE_SCHEMAS[node_type].errors(content) == []


_SCHEMA_MD = ROOT / "docs" / "SCHEMA.md"  # the project's copy of the data model


def test_schema_md_examples_are_copied_verbatim() -> None:
    """The data file holds SCHEMA.md's lines as written."""
    text = _SCHEMA_MD.read_text(encoding="utf-8")
    lines = json.loads((CASES / "schema_md_content_examples.json").read_text(encoding="utf-8"))["lines"]
    for line in lines:
        assert line in text
