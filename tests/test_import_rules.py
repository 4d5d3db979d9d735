"""Import directions of DESIGN.md ("Layout"), checked on the source's AST (no module is imported).

- ``compiler`` and ``engine`` never import ``api`` or ``pytake`` (``pytake lint``/``run``
  start without the web stack); ``api`` never imports ``pytake`` (process hosting sits above
  the rooms); the engine imports nothing of ours, the compiler only the engine.
- The rooms of the message path import each other only along `ROOM_MAY_IMPORT`; a room
  not in its row's set is upward or sideways. `api.workers.queue` (task names and the
  Redis wake-up, a leaf) may be imported by any room.
- Nothing below the top imports it: only `TOP` modules import `api.routes`, `api.app`...
- Only ``api/settings.py`` reads the environment, in ``api/`` and ``pytake/`` (a command
  may still write variables for the processes it spawns).

Every import counts, wherever it is (function bodies, ``TYPE_CHECKING`` blocks).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("compiler", "engine", "api", "pytake")

PACKAGE_MAY_IMPORT = {
    "engine": set(),
    "compiler": {"engine"},
    "api": {"engine", "compiler"},
    "pytake": {"api", "engine", "compiler"},
}

# the message path's rooms: the other rooms of api/ they may import
ROOM_MAY_IMPORT = {
    "api.whatsapp": set(),  # the pure channel
    "api.events": {"api.db"},
    "api.analytics": {"api.db", "api.events"},
    "api.outbox": {"api.whatsapp", "api.events", "api.db", "api.runtime_context"},
    "api.inbound": {"api.whatsapp", "api.events", "api.db", "api.outbox", "api.templates"},
    "api.conversations": {"api.whatsapp", "api.events", "api.db", "api.outbox", "api.runtime_context",
                          "api.templates", "api.schemas", "api.campaigns", "api.analytics"},
    "api.runtime_context": {"api.whatsapp", "api.db"},
    "api.templates": {"api.whatsapp", "api.db", "api.schemas"},
    "api.assignment": {"api.events", "api.outbox", "api.db", "api.conversations"},
    "api.campaigns": {"api.whatsapp", "api.events", "api.db", "api.outbox", "api.runtime_context", "api.templates",
                      "api.schemas", "api.services"},
    "api.workers": {"api.inbound", "api.conversations", "api.outbox", "api.events", "api.whatsapp", "api.db",
                    "api.runtime_context", "api.assignment", "api.templates", "api.campaigns",
                    "api.live", "api.logstore", "api.analytics",
                    "api.media"},
    "api.live": {"api.events", "api.assignment", "api.whatsapp", "api.db"},
    "api.logstore": {"api.events", "api.db", "api.audit"},  # the log store, fed from events
    "api.media": {"api.whatsapp", "api.db"},  # media files: fetched from Meta, uploaded, stored
}
# modules any room may import: the process's foundations (configuration, connections, codecs)
# and the queue's leaf module
SHARED = {"api.settings", "api.crypto", "api.secret_keys", "api.redis_clients", "api.redis_keys",
          "api.redis_pipe", "api.json_codec", "api.json_body", "api.errors", "api.gc_tuning", "api.event_loop",
          "api.context", "api.workers.queue", "api.metrics", "api.redis_buffered_counts",
          "api.log_context", "api.redis_scripts", "api.zones"}
# the top of api/: the app and its routes; nothing but the top imports them
TOP = {"api.app", "api.web_app", "api.openapi_docs", "api.routes", "api.metrics_http"}
ENVIRONMENT_READER = "api.settings"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (``from a.b import c``: ``a.b.c`` when that is a module, else ``a.b``)
    line: int


@dataclass(frozen=True)
class EnvironmentRead:
    module: str
    line: int
    what: str


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def scan(root: Path, packages=PACKAGES) -> tuple[list[Import], list[EnvironmentRead]]:
    """Every import of our packages, and every read of the environment, under ``root``."""
    modules = {module_name(root, p) for pkg in packages for p in (root / pkg).rglob("*.py")}
    imports: list[Import] = []
    reads: list[EnvironmentRead] = []
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            module = module_name(root, path)
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            # ``spawn(..., env=dict(os.environ, X="1"))``: the environment handed to a child process
            for_children = {id(n) for call in ast.walk(tree) if isinstance(call, ast.Call)
                            for k in call.keywords if k.arg == "env" for n in ast.walk(k.value)}
            for node in ast.walk(tree):
                if id(node) in for_children:
                    continue
                if isinstance(node, ast.Import):
                    imports += [Import(module, a.name, node.lineno) for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = _resolve(module, path.name == "__init__.py", node)
                    for a in node.names:
                        sub = f"{base}.{a.name}"
                        imports.append(Import(module, sub if sub in modules else base, node.lineno))
                    if base == "os" and any(a.name in ("environ", "getenv", "environb", "getenvb")
                                            for a in node.names):
                        reads.append(EnvironmentRead(module, node.lineno, "from os import environ/getenv"))
                elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                        and node.value.id == "os" and node.attr in ("getenv", "getenvb"):
                    reads.append(EnvironmentRead(module, node.lineno, f"os.{node.attr}"))
                elif isinstance(node, ast.Attribute) and _is_os_environ(node.value) \
                        and node.attr in ("get", "copy", "items", "keys", "values", "setdefault", "pop"):
                    reads.append(EnvironmentRead(module, node.lineno, f"os.environ.{node.attr}"))
                elif isinstance(node, ast.Subscript) and _is_os_environ(node.value) \
                        and isinstance(node.ctx, ast.Load):
                    reads.append(EnvironmentRead(module, node.lineno, "os.environ[...]"))
                elif isinstance(node, (ast.Call, ast.Dict, ast.Compare)):
                    reads += [EnvironmentRead(module, node.lineno, "os.environ") for v in _operands(node)
                              if _is_os_environ(v)]
    return [i for i in imports if i.target.split(".")[0] in packages], reads


def _is_os_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in ("environ", "environb") \
        and isinstance(node.value, ast.Name) and node.value.id == "os"


def _operands(node: ast.AST) -> list[ast.AST]:
    """What ``dict(os.environ)``, ``{**os.environ}``, ``"X" in os.environ`` read."""
    if isinstance(node, ast.Call):
        return list(node.args) + [k.value for k in node.keywords]
    if isinstance(node, ast.Dict):
        return [v for k, v in zip(node.keys, node.values) if k is None]
    return list(node.comparators)


def room_of(module: str) -> str:
    """``api.inbound.ingest`` → ``api.inbound``; ``api.settings`` → itself; ``engine.x`` → ``engine``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "api" and len(parts) > 1 else parts[0]


def violations(imports: list[Import], reads: list[EnvironmentRead]) -> list[str]:
    found = []
    for i in imports:
        src_pkg, dst_pkg = i.module.split(".")[0], i.target.split(".")[0]
        where = f"{i.module}:{i.line} imports {i.target}"
        if src_pkg != dst_pkg:
            if dst_pkg not in PACKAGE_MAY_IMPORT[src_pkg]:
                found.append(f"{where}: {src_pkg} may not import {dst_pkg}")
            continue
        if src_pkg != "api":
            continue
        src, dst = room_of(i.module), room_of(i.target)
        if src == dst:
            continue
        if dst in TOP and src not in TOP:
            found.append(f"{where}: {dst} is the top of api/ (only {', '.join(sorted(TOP))} import it)")
        elif src in ROOM_MAY_IMPORT and i.target not in SHARED and dst not in SHARED \
                and dst not in ROOM_MAY_IMPORT[src] and dst != "api":
            allowed = ", ".join(sorted(ROOM_MAY_IMPORT[src])) or "no other room"
            found.append(f"{where}: {src} may import {allowed} (and the shared modules)")
    for r in reads:
        if r.module.split(".")[0] in ("api", "pytake") and r.module != ENVIRONMENT_READER:
            found.append(f"{r.module}:{r.line} reads the environment ({r.what}): only {ENVIRONMENT_READER} does")
    return found


def test_the_tree_follows_the_import_rules():
    assert violations(*scan(ROOT)) == []


def test_every_room_in_the_rules_exists():
    """A renamed room must not leave its rules checking nothing."""
    modules = {module_name(ROOT, p) for p in (ROOT / "api").rglob("*.py")}
    assert set(ROOM_MAY_IMPORT) | SHARED | TOP <= modules


# -- the checker itself, on a tiny tree ---------------------------------------------------

def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir(exist_ok=True)
        (tmp_path / pkg / "__init__.py").touch()
    return tmp_path


CLEAN = {
    "engine/interpreter.py": "import json\n",
    "compiler/emit.py": "from engine.interpreter import x\n",
    "api/settings.py": "import os\nENV = os.environ.get('X')\n",
    "api/db/__init__.py": "",
    "api/whatsapp/__init__.py": "",
    "api/whatsapp/payloads.py": "from api.settings import ENV\n",
    "api/events/emit.py": "from api.db import x\n",
    "api/outbox/sender.py": "from api.whatsapp.payloads import x\nfrom api.events import emit\n",
    "api/inbound/ingest.py": "from ..outbox import sender\nfrom api.workers.queue import enqueue\n",
    "api/workers/queue.py": "",
    "api/routes/messages.py": "from api.inbound import ingest\n",
    "api/app.py": "from api.routes import messages\n",
    "pytake/cli.py": "import os\nfrom api.app import create_app\nspawn(env=dict(os.environ))\n"
                     "os.environ['PYTAKE_CHILD'] = '1'\n",
}


def test_a_clean_tree_passes(tmp_path):
    assert violations(*scan(_tree(tmp_path, CLEAN))) == []


@pytest.mark.parametrize("path, source, complaint", [
    ("engine/nodes.py", "from api.db import session\n", "engine may not import api"),
    ("compiler/lower.py", "import pytake.cli\n", "compiler may not import pytake"),
    ("api/outbox/enqueue.py", "import pytake.hosting\n", "api may not import pytake"),
    ("api/whatsapp/graph.py", "from api.inbound.ingest import NUMBERS\n", "api.whatsapp may import no other room"),
    ("api/events/consumer.py", "def f():\n    from api.outbox import sender\n", "api.events may import api.db"),
    ("api/outbox/sender2.py", "from api.conversations import process\n", "api.outbox may import"),
    ("api/conversations/apply.py", "from ..inbound import ingest\n", "api.conversations may import"),
    ("api/inbound/statuses.py", "from api.routes import messages\n", "is the top of api/"),
    ("api/outbox/x.py", "from api import app\n", "is the top of api/"),
    ("api/inbound/y.py", "import os\nSECRET = os.getenv('PYTAKE_SECRET')\n", "reads the environment (os.getenv)"),
    ("api/outbox/z.py", "import os\nN = int(os.environ['PYTAKE_N'])\n", "reads the environment (os.environ[...])"),
    ("api/db/w.py", "from os import environ\n", "reads the environment (from os import"),
    ("pytake/commands/run.py", "import os\nKEY = os.environ.get('OPENAI_API_KEY')\n", "reads the environment"),
    ("pytake/commands/serve.py", "import os\nif 'X' in os.environ: pass\n", "reads the environment (os.environ)"),
])
def test_a_planted_violation_is_reported(tmp_path, path, source, complaint):
    root = _tree(tmp_path, {**CLEAN, path: source})
    found = violations(*scan(root))
    assert len(found) == 1 and complaint in found[0], found
