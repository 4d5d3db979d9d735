"""Sending: outbound rows written as the outbox (`outbound_rows`, `insert_outbound`),
the sender waking on them (`kick_sender`) and delivering each row once in
order under the send rate limits (`Sender`), in a worker from its own process
(`BackgroundDelivery`); the per-conversation leases (`conversation_lease`,
`sender_lease`) keep one processor and one sender per conversation."""

from api.outbox.background import BackgroundDelivery
from api.outbox.enqueue import insert_outbound, kick_sender, outbound_rows
from api.outbox.locks import CONVERSATION_LEASE, SENDER_LEASE, Lease, conversation_lease, lease_ms, sender_lease
from api.outbox.send_rate_limit import PAIR_LIMIT, Limit, SendRateLimiter
from api.outbox.sender import OUTSIDE_WINDOW, RETRY_KEY, WAITING, Sender, pending_rows, reconcile_abandoned_claims
from api.outbox.sent_records import SentRecorder
from api.runtime_context import SendHint

__all__ = ["BackgroundDelivery", "CONVERSATION_LEASE", "Lease", "Limit", "OUTSIDE_WINDOW", "PAIR_LIMIT", "RETRY_KEY",
           "SENDER_LEASE", "SendHint", "SendRateLimiter", "Sender", "SentRecorder", "WAITING", "conversation_lease",
           "insert_outbound", "kick_sender", "lease_ms", "outbound_rows", "pending_rows", "reconcile_abandoned_claims",
           "sender_lease"]
