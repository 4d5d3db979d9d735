"""The instruction set: an immutable, versioned, deterministic `Program`.

The engine owns this format (as a VM owns its bytecode); the compiler targets
it. One instruction per canvas node. Each instruction carries:

- ``op``: what the node does (`Op`),
- ``node``: the canvas node id it came from (for traces, `current_node_id`,
  analytics and the disassembly),
- ``arg``: the node's compiled data, a JSON value from the constant pool in
  which every template string has become ``{"$tpl": TEMPLATE_AST}`` and every
  expression ``{"$expr": EXPR_AST}`` (see ``engine/expressions.py``),
- ``exits``: ``(handle, target_pc)`` pairs, sorted by handle name: where each
  named branch continues. An absent handle means "not connected".

Binary layout (all integers are unsigned LEB128 varints)::

    b"PYTK" FORMAT_VERSION:u8
    entry
    len(pool) pool-json-bytes        # canonical JSON array of the constants
    n_instructions
    n_instructions * (op node_const arg_const n_exits (handle_const target)*)

The pool is canonical JSON (sorted keys, no spaces, UTF-8), constants are
interned in first-use order, so equal programs have equal bytes and hash.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

MAGIC = b"PYTK"
FORMAT_VERSION = 1


class ProgramFormatError(ValueError):
    """The bytes are not a program this engine can load."""


class Op(enum.IntEnum):
    START = 0
    MESSAGE = 1
    QUESTION = 2
    CONDITION = 3
    ACTION = 4
    API_CALL = 5
    AI_PROMPT = 6
    JUMP = 7  # goto a node of this flow: exits {"next": pc}
    CALL = 8  # run another flow, come back on its end: arg {"flow": id, ...}
    HANDOFF = 9
    END = 10

    @classmethod
    def for_node_type(cls, node_type: str) -> "Op":
        return cls[node_type.upper()]


@dataclass(frozen=True, slots=True)
class Instruction:
    op: Op
    node: str
    arg: Any
    exits: tuple[tuple[str, int], ...] = ()

    def exit(self, handle: str) -> int | None:
        for name, target in self.exits:
            if name == handle:
                return target
        return None


@dataclass(frozen=True)
class Program:
    """A compiled flow. Immutable; shared by every conversation on it."""

    code: tuple[Instruction, ...]
    entry: int = 0
    node_offsets: Mapping[str, int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.node_offsets:
            object.__setattr__(
                self, "node_offsets", {ins.node: pc for pc, ins in enumerate(self.code)}
            )

    # -- encoding ---------------------------------------------------------
    def to_bytes(self) -> bytes:
        index: dict[str, int] = {}  # canonical JSON of a constant → its pool index

        def intern(value: Any) -> int:
            key = canonical_json(value)
            found = index.get(key)
            if found is None:
                found = index[key] = len(index)
            return found

        body = bytearray()
        _varint(len(self.code), body)
        for ins in self.code:
            body.append(int(ins.op))
            _varint(intern(ins.node), body)
            _varint(intern(ins.arg), body)
            _varint(len(ins.exits), body)
            for handle, target in ins.exits:
                _varint(intern(handle), body)
                _varint(target, body)
        # The canonical JSON of the pool array is its elements' joined by ","
        # (dicts keep insertion order, so the keys are in pool order).
        pool_bytes = ("[" + ",".join(index) + "]").encode("utf-8")
        out = bytearray(MAGIC)
        out.append(FORMAT_VERSION)
        _varint(self.entry, out)
        _varint(len(pool_bytes), out)
        out += pool_bytes
        out += body
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Program":
        if data[:4] != MAGIC:
            raise ProgramFormatError("not a PyTake program (bad magic)")
        if len(data) < 5 or data[4] != FORMAT_VERSION:
            raise ProgramFormatError(
                f"program format {data[4] if len(data) > 4 else '?'} is not supported "
                f"(this engine reads format {FORMAT_VERSION})"
            )
        try:
            pos = 5
            entry, pos = _read_varint(data, pos)
            size, pos = _read_varint(data, pos)
            pool = json.loads(data[pos : pos + size].decode("utf-8"))
            pos += size
            count, pos = _read_varint(data, pos)
            code = []
            for _ in range(count):
                op = Op(data[pos])
                pos += 1
                node_i, pos = _read_varint(data, pos)
                arg_i, pos = _read_varint(data, pos)
                n_exits, pos = _read_varint(data, pos)
                exits = []
                for _ in range(n_exits):
                    h, pos = _read_varint(data, pos)
                    t, pos = _read_varint(data, pos)
                    exits.append((pool[h], t))
                code.append(Instruction(op, pool[node_i], pool[arg_i], tuple(exits)))
        except (IndexError, ValueError, UnicodeDecodeError) as exc:
            raise ProgramFormatError(f"corrupt program: {exc}") from exc
        if pos != len(data):
            raise ProgramFormatError("corrupt program: trailing bytes")
        program = cls(tuple(code), entry)
        program.validate()
        return program

    def validate(self) -> None:
        """Structural checks a loader must make before running untrusted bytes."""
        n = len(self.code)
        if n == 0:
            raise ProgramFormatError("empty program")
        if not 0 <= self.entry < n:
            raise ProgramFormatError("entry outside the program")
        for pc, ins in enumerate(self.code):
            for handle, target in ins.exits:
                if not 0 <= target < n:
                    raise ProgramFormatError(f"pc {pc}: exit {handle!r} targets {target}")

    @functools.cached_property
    def hash(self) -> str:
        """sha256 of the bytes; computed once per (immutable) program."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    # -- JSON (for humans, fixtures and debugging) --------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "entry": self.entry,
            "code": [
                {"op": ins.op.name.lower(), "node": ins.node, "arg": ins.arg,
                 "exits": dict(ins.exits)}
                for ins in self.code
            ],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "Program":
        if doc.get("format") != FORMAT_VERSION:
            raise ProgramFormatError(f"program format {doc.get('format')!r} is not supported")
        code = tuple(
            Instruction(Op.for_node_type(i["op"]), i["node"], i["arg"],
                        tuple(sorted(i.get("exits", {}).items())))
            for i in doc["code"]
        )
        program = cls(code, doc.get("entry", 0))
        program.validate()
        return program

    def disassemble(self) -> str:
        """A readable listing: pc, op, node id, exits and the compact argument."""
        lines = []
        width = len(str(len(self.code)))
        for pc, ins in enumerate(self.code):
            mark = ">" if pc == self.entry else " "
            exits = " ".join(f"{h}->{t}" for h, t in ins.exits)
            arg = canonical_json(ins.arg)
            if len(arg) > 100:
                arg = arg[:97] + "..."
            lines.append(
                f"{mark}{pc:>{width}}  {ins.op.name:<9} {ins.node:<20} {exits:<30} {arg}".rstrip()
            )
        return "\n".join(lines)


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 (one shared encoder: json.dumps builds one per call)."""
    return _CANONICAL.encode(value)


def _varint(n: int, out: bytearray) -> None:
    if n < 0:
        raise ValueError("varints are unsigned")
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def build(instructions: Iterable[Instruction], entry: int = 0) -> Program:
    program = Program(tuple(instructions), entry)
    program.validate()
    return program
