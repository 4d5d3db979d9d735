"""The log store: message, conversation, webhook and API request logs (docs/logs.md).

One interface (`LogStore`), two stores: PostgreSQL tables partitioned by time
(the embedded default) and MongoDB (``MONGODB_URL``). Fed off the hot path:
message and conversation logs from domain events by the ``logs`` consumer
(`feed_once`, run by each worker's `LogFeeder`), webhook attempts and API
requests from in-process buffers (`LogBuffer`) flushed in batches.
"""

from api.logstore.buffer import LogBuffer, flush_forever
from api.logstore.feed import CONSUMER, event_backlog, feed_once, records_of
from api.logstore.requests import raw_request, sanitized
from api.logstore.runner import LogFeeder, backlog_figures, open_store
from api.logstore.runner import start as start_feeder
from api.logstore.store import (LIFETIMES, MAX_LIMIT, LogStore, MessageQuery, RequestQuery, StoreUnavailable,
                                WebhookQuery)

__all__ = ["CONSUMER", "LIFETIMES", "LogBuffer", "LogFeeder", "LogStore", "MAX_LIMIT", "MessageQuery",
           "RequestQuery", "StoreUnavailable", "WebhookQuery", "backlog_figures", "event_backlog", "feed_once",
           "flush_forever", "open_store", "raw_request", "records_of", "sanitized", "start_feeder"]
