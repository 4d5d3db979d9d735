"""Domain events: the transactional outbox (`emit`), the catalogue of types and
payloads (`catalogue`), and the consumers that read them (docs/events.md)."""

from api.events.catalogue import (EVENT_TYPES, contact_payload, conversation_payload, failed_before_sent_payload,
                                  message_payload)
from api.events.emit import EVENTS_CTE, EVENTS_JSON_CTE, NewEvent, cte_json_params, cte_params, emit, emit_conn, event

__all__ = ["EVENT_TYPES", "EVENTS_CTE", "EVENTS_JSON_CTE", "NewEvent", "contact_payload", "conversation_payload",
           "cte_json_params", "cte_params", "emit", "emit_conn", "event", "failed_before_sent_payload",
           "message_payload"]
