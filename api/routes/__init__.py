"""Resource blueprints registered by `api.app.create_app` (API-resources owns this list).

API-core may add its ``organization`` blueprint here; keep that entry.
"""

from __future__ import annotations

from quart import Blueprint

from api.routes import (
    admin,
    agent_greetings,
    agents,
    analytics,
    audit_logs,
    campaigns,
    chatbots,
    contacts,
    conversations,
    departments,
    flows,
    integrations,
    live,
    logs,
    media,
    messages,
    organization,
    quick_replies,
    tags,
    templates,
    users,
    webhooks,
    whatsapp_numbers,
)

BLUEPRINTS: list[Blueprint] = [
    organization.blueprint,
    users.blueprint,
    whatsapp_numbers.blueprint,
    departments.blueprint,
    agent_greetings.blueprint,
    agents.blueprint,
    chatbots.blueprint,
    flows.blueprint,
    analytics.blueprint,
    contacts.blueprint,
    tags.blueprint,
    conversations.blueprint,
    messages.blueprint,
    media.blueprint,
    campaigns.blueprint,
    templates.blueprint,
    integrations.blueprint,
    webhooks.blueprint,
    quick_replies.blueprint,
    audit_logs.blueprint,
    logs.blueprint,
    admin.blueprint,
    live.blueprint,
]
