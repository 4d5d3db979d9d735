"""/campaigns: campaign definitions (the runtime sends them)."""

from __future__ import annotations

import uuid

from api.db.models import Campaign, WhatsAppTemplate
from api.resources import DateRange, Equals, Resource, crud_blueprint
from api.schemas.campaigns import CampaignCreate, CampaignOut, CampaignUpdate

resource = Resource(
    name="campaigns",
    label="campaign",
    model=Campaign,
    out=CampaignOut,
    path="/campaigns",
    create=CampaignCreate,
    update=CampaignUpdate,
    filters=(
        Equals("status", Campaign.status,
               choices=("draft", "scheduled", "running", "paused", "completed", "cancelled")),
        Equals("template_id", Campaign.template_id, uuid.UUID),
        DateRange("created_at", Campaign.created_at),
        DateRange("scheduled_at", Campaign.scheduled_at),
    ),
    sorts=("name", "status", "scheduled_at", "created_at"),
    references={"template_id": WhatsAppTemplate},
)
blueprint = crud_blueprint(resource)
