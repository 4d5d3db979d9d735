"""The WhatsApp path behind a PgBouncer that keeps prepared statements
(``?pooler=pgbouncer-prepared``, tests/pgbouncer_prepared.py): the same tests as
tests/runtime/test_pgbouncer.py, with PyTake's statement caches on."""

from __future__ import annotations

from tests.pgbouncer_prepared import database_url  # noqa: F401 - every test here goes through PgBouncer
from tests.runtime.test_pgbouncer import api  # noqa: F401 - fixture
from tests.runtime.test_pgbouncer import (  # noqa: F401 - collected again here
    test_a_campaign_reaches_its_audience_once_and_its_counters_match_the_recipients,
    test_an_agent_reply_written_to_the_outbox_is_sent_after_kick_sender,
    test_customer_message_runs_the_flow_and_the_reply_reaches_whatsapp,
    test_pause_resume_and_cancel_mid_send,
    test_redelivered_message_is_a_no_op,
    test_reply_buttons_reach_the_customer_and_a_tap_continues_the_flow,
    test_status_webhooks_from_whatsapp_update_the_outbound_row,
)
