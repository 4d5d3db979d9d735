"""/integrations: external systems; credentials are encrypted and never returned."""

from __future__ import annotations

from api.db.models import Integration
from api.resources import DateRange, Equals, Resource, SecretField, crud_blueprint
from api.schemas.integrations import IntegrationCreate, IntegrationOut, IntegrationUpdate

TYPES = ("webhook", "zapier", "shopify", "woocommerce", "hubspot", "salesforce", "google_sheets", "custom_api")

resource = Resource(
    name="integrations",
    label="integration",
    model=Integration,
    out=IntegrationOut,
    path="/integrations",
    create=IntegrationCreate,
    update=IntegrationUpdate,
    filters=(
        Equals("type", Integration.type, choices=TYPES),
        Equals("is_active", Integration.is_active, bool),
        DateRange("created_at", Integration.created_at),
    ),
    sorts=("name", "type", "created_at"),
    secrets=(SecretField("credentials", "credentials_encrypted", "has_credentials", as_json=True),),
)
blueprint = crud_blueprint(resource)
