"""Event consumers (the cursor row taken ``FOR UPDATE SKIP LOCKED``, the snapshot
horizon) and the webhook deliverer through a real PgBouncer in transaction mode
(tests/pgbouncer.py): the same tests as against PostgreSQL."""

from __future__ import annotations

from tests.events.test_consumer import (  # noqa: F401 - collected again here
    test_a_failed_handler_gets_the_same_events_again,
    test_a_transaction_that_commits_late_is_not_skipped,
    test_each_committed_event_is_handed_over_once_and_the_cursor_moves,
    test_one_worker_at_a_time_per_consumer,
)
from tests.events.test_webhook_delivery import (  # noqa: F401 - collected again here
    test_a_subscribed_event_arrives_signed_with_its_envelope,
    test_nothing_is_delivered_twice_with_two_deliverers_racing,
    test_one_conversation_s_events_arrive_in_order_under_concurrency,
    test_retries_back_off_and_a_receiver_down_for_a_while_gets_everything,
)
from tests.pgbouncer import database_url  # noqa: F401 - every test here goes through PgBouncer
