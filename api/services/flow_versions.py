"""Saving a flow's canvas as a draft version, publishing a version, loading programs.

A save compiles the canvas first; any error-severity diagnostic rejects it and
nothing is written. Otherwise, in the caller's transaction: the flow row is
locked, a `FlowVersion` row keeps the canvas and the program bytes, and
``flows.canvas_data`` becomes that canvas (the editor's working copy). The
version is a **draft**: customers never see it until it is published.

Publishing makes one version live: ``flows.version`` points at it, the
version row records who published it and when, and the flow's ``nodes`` rows
are rewritten from it (so SQL reporting sees the live graph). A node keeps
its UUID across publishes while its canvas id stays the same (so
``conversations.current_node_id`` keeps pointing at it); new canvas ids get
new UUIDs, removed ones are deleted. Running conversations stay on the
version they started; publishing an earlier version is a rollback.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.models import Chatbot, Department, Flow, FlowVersion, Node, WhatsAppTemplate
from api.whatsapp.templates import placeholders
from engine.program import Program, ProgramFormatError

_POSITION_LIMIT = Decimal("99999999.99")  # NUMERIC(10,2)


@dataclass
class SaveResult:
    """What a save did. ``ok`` False: rejected, nothing written, see ``errors``."""

    ok: bool
    flow: Flow
    diagnostics: list[Any] = field(default_factory=list)
    version: int | None = None
    program_hash: str | None = None
    created: bool = False  # False when the canvas equals the latest saved version's
    published: bool = False  # True when this save also made the version live

    @property
    def errors(self) -> list[Any]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Any]:
        return [d for d in self.diagnostics if d.severity == "warning"]


async def known_flows(session: AsyncSession, chatbot_id: uuid.UUID) -> set[str]:
    """Names and ids of a chatbot's flows: what a ``jump`` node may name."""
    rows = await session.execute(select(Flow.id, Flow.name).where(Flow.chatbot_id == chatbot_id))
    names: set[str] = set()
    for flow_id, name in rows:
        names.add(str(flow_id))
        names.add(name)
    return names


async def chatbot_flows(session: AsyncSession, flow: Flow) -> tuple[dict[str, Any], set[str]]:
    """The canvases of ``flow``'s chatbot's flows by every name a ``jump`` may use (its name, the
    oldest flow's when two share one, as the runtime resolves it; its id), and ``flow``'s own
    names: what the compiler needs to find jump cycles across flows (compiler/calls.py)."""
    rows = await session.execute(select(Flow.id, Flow.name, Flow.canvas_data)
                                 .where(Flow.chatbot_id == flow.chatbot_id).order_by(Flow.created_at, Flow.id))
    canvases: dict[str, Any] = {}
    for flow_id, name, canvas in rows:
        canvases[str(flow_id)] = canvas
        canvases.setdefault(name, canvas)
    owner = (await session.execute(select(Flow.id).where(Flow.chatbot_id == flow.chatbot_id, Flow.name == flow.name)
                                   .order_by(Flow.created_at, Flow.id).limit(1))).scalar()
    names = {str(flow.id)} | ({flow.name} if owner == flow.id else set())
    return canvases, names


async def known_departments(session: AsyncSession, chatbot_id: uuid.UUID) -> set[str]:
    """Names and ids of the departments of a chatbot's organization: what a handoff may name."""
    rows = await session.execute(select(Department.id, Department.name).where(
        Department.organization_id == select(Chatbot.organization_id).where(Chatbot.id == chatbot_id)
        .scalar_subquery()))
    out: set[str] = set()
    for department_id, name in rows:
        out.update((str(department_id), name))
    return out


async def known_templates(session: AsyncSession, chatbot_id: uuid.UUID) -> list[Any]:
    """The templates of a chatbot's organization as the compiler checks a message's `template`
    against them (`compiler.KnownTemplate`): a deactivated one, or one not enabled in flows,
    counts as not approved."""
    from compiler import KnownTemplate

    rows = (await session.execute(select(WhatsAppTemplate).where(
        WhatsAppTemplate.organization_id == select(Chatbot.organization_id).where(Chatbot.id == chatbot_id)
        .scalar_subquery()))).scalars().all()
    out = []
    for t in rows:
        status = t.meta_status or "PENDING"
        if t.is_active is False:
            status = "deactivated"
        elif t.is_enabled_in_flows is False:
            status = "not enabled in flows"
        text_header = t.header_type == "TEXT" and bool(placeholders(t.header_content))
        out.append(KnownTemplate(name=t.name, language=t.language or "pt_BR", status=status,
                                 parameters=len(placeholders(t.body_text)), header=t.header_type,
                                 header_parameters=int(text_header)))
    return out


async def save_canvas(session: AsyncSession, flow: Flow, canvas: Any,
                      user_id: uuid.UUID | None, *, publish: bool = False) -> SaveResult:
    """Compile ``canvas`` and, when it compiles, store it as ``flow``'s next
    draft version (flushed, not committed: call inside ``db.transaction()``).
    ``publish`` also makes it live (`publish_version`)."""
    from compiler import compile_canvas

    flows, names = await chatbot_flows(session, flow)
    result = compile_canvas(canvas, known_flows=await known_flows(session, flow.chatbot_id),
                            known_departments=await known_departments(session, flow.chatbot_id),
                            known_templates=await known_templates(session, flow.chatbot_id),
                            flows=flows, names=names)
    if not result.ok or result.program is None:
        return SaveResult(ok=False, flow=flow, diagnostics=list(result.diagnostics))

    locked = (await session.execute(
        select(Flow).where(Flow.id == flow.id).with_for_update()
        .execution_options(populate_existing=True))).scalar_one()
    latest = (await session.execute(
        select(FlowVersion).where(FlowVersion.flow_id == locked.id)
        .order_by(FlowVersion.version.desc()).limit(1))).scalar_one_or_none()
    program_bytes = result.program.to_bytes()
    program_hash = hashlib.sha256(program_bytes).hexdigest()

    created = not (latest is not None and latest.canvas == canvas and latest.program_hash == program_hash)
    if created:
        version = (latest.version + 1) if latest is not None else 1
        session.add(FlowVersion(flow_id=locked.id, version=version, canvas=canvas,
                                program=program_bytes, program_hash=program_hash,
                                created_by=user_id))
        locked.canvas_data = canvas
        locked.updated_at = func.now()
        await session.flush()
    else:
        version = latest.version
    published = False
    if publish and not (locked.version == version and await _is_published(session, locked.id, version)):
        await _make_live(session, locked, version, user_id, result.node_rows)
        published = True
    await session.flush()
    await session.refresh(locked)
    return SaveResult(ok=True, flow=locked, diagnostics=list(result.diagnostics),
                      version=version, program_hash=program_hash, created=created, published=published)


async def publish_version(session: AsyncSession, flow: Flow, version: int,
                          user_id: uuid.UUID | None) -> FlowVersion | None:
    """Make ``version`` of ``flow`` live (None: no such version). The flow row
    must be locked by the caller. Publishing an earlier version rolls back."""
    from compiler import compile_canvas

    row = (await session.execute(select(FlowVersion).where(
        FlowVersion.flow_id == flow.id, FlowVersion.version == version))).scalar_one_or_none()
    if row is None:
        return None
    compiled = compile_canvas(row.canvas, known_flows=await known_flows(session, flow.chatbot_id))
    await _make_live(session, flow, version, user_id, compiled.node_rows if compiled.ok else None)
    await session.flush()
    await session.refresh(row)
    return row


async def _is_published(session: AsyncSession, flow_id: uuid.UUID, version: int) -> bool:
    return (await session.execute(select(FlowVersion.published_at).where(
        FlowVersion.flow_id == flow_id, FlowVersion.version == version))).scalar() is not None


async def _make_live(session: AsyncSession, flow: Flow, version: int, user_id: uuid.UUID | None,
                     node_rows: list[dict[str, Any]] | None) -> None:
    await session.execute(update(FlowVersion).where(
        FlowVersion.flow_id == flow.id, FlowVersion.version == version).values(
        published_at=func.now(), published_by=user_id))
    flow.version = version
    flow.updated_at = func.now()
    if node_rows is not None:
        await _write_nodes(session, flow.id, node_rows)


def _position(value: Any) -> Decimal | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    number = Decimal(str(round(float(value), 2)))
    return max(-_POSITION_LIMIT, min(_POSITION_LIMIT, number))


async def _write_nodes(session: AsyncSession, flow_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    existing = {
        (node.settings or {}).get("canvas_id"): node
        for node in (await session.execute(select(Node).where(Node.flow_id == flow_id))).scalars()
    }
    wanted = {row["id"] for row in rows}
    stale = [node.id for canvas_id, node in existing.items() if canvas_id not in wanted]
    if stale:
        await session.execute(delete(Node).where(Node.id.in_(stale)))
        for canvas_id in [c for c in existing if c not in wanted]:
            session.expunge(existing.pop(canvas_id))

    ids = {row["id"]: (existing[row["id"]].id if row["id"] in existing else uuid.uuid4())
           for row in rows}
    nodes: list[Node] = []
    for row in rows:
        node = existing.get(row["id"])
        if node is None:
            node = Node(id=ids[row["id"]], flow_id=flow_id)
            session.add(node)
        node.type = row["type"]
        node.label = row.get("label")
        node.content = row.get("content") or {}
        node.position_x = _position(row.get("position_x"))
        node.position_y = _position(row.get("position_y"))
        node.settings = {**(node.settings or {}), "canvas_id": row["id"]}
        node.updated_at = func.now()
        nodes.append(node)
    await session.flush()  # every node exists before any points at another
    for node, row in zip(nodes, rows):
        target = row.get("next_node_id")
        node.next_node_id = ids.get(target) if target is not None else None


async def load_program(session: AsyncSession, flow_id: uuid.UUID, version: int) -> Program | None:
    """The compiled program of one version of a flow (None if there is no such
    version). Raises `ProgramFormatError` if the stored bytes are corrupt."""
    row = (await session.execute(
        select(FlowVersion.program, FlowVersion.program_hash)
        .where(FlowVersion.flow_id == flow_id, FlowVersion.version == version))).first()
    if row is None:
        return None
    data = bytes(row.program)
    if hashlib.sha256(data).hexdigest() != row.program_hash:
        raise ProgramFormatError(f"flow {flow_id} version {version}: program does not match its hash")
    return Program.from_bytes(data)


async def load_current_program(session: AsyncSession, flow_id: uuid.UUID) -> tuple[int, Program] | None:
    """``(version, program)`` of the flow's live (published) version, or None."""
    version = (await session.execute(
        select(Flow.version).join(FlowVersion, (FlowVersion.flow_id == Flow.id)
                                  & (FlowVersion.version == Flow.version))
        .where(Flow.id == flow_id, FlowVersion.published_at.is_not(None)))).scalar()
    if version is None:
        return None
    program = await load_program(session, flow_id, version)
    return None if program is None else (version, program)


async def node_ids(session: AsyncSession, flow_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """Canvas node id → ``nodes.id`` for a flow (for ``conversations.current_node_id``)."""
    rows = await session.execute(
        select(Node.settings["canvas_id"].astext, Node.id).where(Node.flow_id == flow_id))
    return {canvas_id: node_id for canvas_id, node_id in rows if canvas_id is not None}
