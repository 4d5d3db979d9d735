"""Event consumers and the webhook deliverer behind a PgBouncer that keeps prepared
statements (``?pooler=pgbouncer-prepared``, tests/pgbouncer_prepared.py): the same
tests as tests/events/test_pgbouncer.py."""

from __future__ import annotations

from tests.events.test_pgbouncer import (  # noqa: F401 - collected again here
    test_a_failed_handler_gets_the_same_events_again,
    test_a_subscribed_event_arrives_signed_with_its_envelope,
    test_a_transaction_that_commits_late_is_not_skipped,
    test_each_committed_event_is_handed_over_once_and_the_cursor_moves,
    test_nothing_is_delivered_twice_with_two_deliverers_racing,
    test_one_conversation_s_events_arrive_in_order_under_concurrency,
    test_one_worker_at_a_time_per_consumer,
    test_retries_back_off_and_a_receiver_down_for_a_while_gets_everything,
)
from tests.pgbouncer_prepared import database_url  # noqa: F401 - every test here goes through PgBouncer
