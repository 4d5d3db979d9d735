"""Runtime glue: webhook ingest, ordered flow processing, the outbox sender, status updates.

See docs/runtime.md. Other areas use `api.runtime.outbox.kick_sender`.
"""
