"""/analytics/snapshots: the organization's figures per hour, day, week or month (docs/analytics.md)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart_schema import document_querystring, document_response, operation_id, tag

from api.analytics import PERIODS, list_snapshots
from api.auth.permissions import require
from api.context import on_read_db
from api.db.session import Database
from api.errors import ValidationFailed
from api.resources import org_id
from api.resources.crud import check_query_params
from api.resources.filters import parse_datetime
from api.schemas.analytics import SnapshotList, SnapshotQuery

blueprint = Blueprint("analytics", __name__)


@blueprint.get("/analytics/snapshots")
@tag(["analytics"])
@operation_id("list_analytics_snapshots")
@document_querystring(SnapshotQuery)
@document_response(SnapshotList)
@require("organization:read")
async def list_analytics_snapshots() -> Any:
    """The organization's analytics snapshots of one period kind whose period starts in
    ``[from, to)``, oldest first: conversations, messages, contacts, chatbot runs and
    agents, each computed from the source data for the period in the organization's
    timezone (``settings.timezone``) by a scheduled refresh or a backfill
    (docs/analytics.md)."""
    check_query_params(list(SnapshotQuery.model_fields))
    args = request.args
    period = args.get("period", "day")
    if period not in PERIODS:
        raise ValidationFailed("period", f"period must be one of {', '.join(PERIODS)}")
    since = parse_datetime("from", args["from"]) if "from" in args else None
    until = parse_datetime("to", args["to"]) if "to" in args else None
    organization = org_id()

    async def read(db: Database) -> list[Any]:  # on the replica when there is one
        async with db.session() as session:
            return await list_snapshots(session, organization, period, since, until)

    return {"items": await on_read_db(read)}
