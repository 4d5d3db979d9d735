"""What a webhook brings in: customer messages stored durably (`ingest_messages`,
with their domain events), status updates applied (`apply_statuses`; those of
concurrent webhooks together, `StatusBatcher`). The HTTP route is
`api.inbound.routes` (the app registers it; nothing else imports it)."""

from api.inbound.ingest import IngestResult, ingest_messages, store_messages
from api.inbound.statuses import StatusBatcher, apply_statuses

__all__ = ["IngestResult", "StatusBatcher", "apply_statuses", "ingest_messages", "store_messages"]
