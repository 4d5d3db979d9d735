"""Monthly partitions of `messages` and the global uniqueness of
`messages.whatsapp_message_id` (see docs/data-layer.md).

- `pytake_create_message_partition(month)` creates `messages_YYYY_MM` (UTC
  months), moving any rows the DEFAULT partition already holds for that month;
- `pytake_ensure_message_partitions(months_ahead, months_back)` creates the
  current month's partition and the next `months_ahead` (called here and by a
  periodic task through `api.db.partitions.ensure_message_partitions`);
- `messages_default` catches anything outside the created months, so an insert
  never fails for want of a partition;
- trigger `messages_whatsapp_id_sync` keeps `message_whatsapp_ids` (one row per
  WhatsApp message id, primary key) in step with `messages`.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CREATE_PARTITION = r"""
CREATE FUNCTION pytake_create_message_partition(month date) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    v_month date := date_trunc('month', month)::date;
    v_name text := 'messages_' || to_char(v_month, 'YYYY_MM');
    v_schema text;
    v_from timestamptz := v_month::timestamp AT TIME ZONE 'UTC';
    v_to timestamptz := (v_month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    v_has_rows boolean;
    v_fk record;
    v_fks text[] := ARRAY[]::text[];
BEGIN
    SELECT n.nspname INTO v_schema
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = 'messages'::regclass;
    IF to_regclass(format('%I.%I', v_schema, v_name)) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.messages_default WHERE created_at >= $1 AND created_at < $2)', v_schema)
       INTO v_has_rows USING v_from, v_to;
    IF NOT v_has_rows THEN
        EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.messages FOR VALUES FROM (%L) TO (%L)',
                       v_schema, v_name, v_schema, v_from, v_to);
        RETURN v_name;
    END IF;
    -- The DEFAULT partition already holds rows of this month: move them into
    -- a new table, then attach it. A foreign key to `messages` would see each
    -- moved row vanish from DEFAULT (PostgreSQL checks it per partition), so
    -- those keys are dropped for the move and re-created (and re-validated)
    -- after it, all in this transaction.
    FOR v_fk IN SELECT c.conrelid::regclass::text AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def
                  FROM pg_constraint c
                 WHERE c.contype = 'f' AND c.confrelid = 'messages'::regclass AND c.conparentid = 0
    LOOP
        v_fks := v_fks || ARRAY[v_fk.tbl, v_fk.conname, v_fk.def];
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', v_fk.tbl, v_fk.conname);
    END LOOP;
    PERFORM set_config('pytake.moving_messages', 'on', true);
    EXECUTE format('CREATE TABLE %I.%I (LIKE %I.messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                   v_schema, v_name, v_schema);
    EXECUTE format('WITH moved AS (DELETE FROM %I.messages_default WHERE created_at >= $1 AND created_at < $2 RETURNING *) '
                   'INSERT INTO %I.%I SELECT * FROM moved', v_schema, v_schema, v_name)
       USING v_from, v_to;
    EXECUTE format('ALTER TABLE %I.messages ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                   v_schema, v_schema, v_name, v_from, v_to);
    PERFORM set_config('pytake.moving_messages', 'off', true);
    FOR i IN 1 .. coalesce(array_length(v_fks, 1), 0) / 3 LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s',
                       v_fks[3 * i - 2], v_fks[3 * i - 1], v_fks[3 * i]);
    END LOOP;
    RETURN v_name;
END
$fn$;
"""

ENSURE_PARTITIONS = r"""
CREATE FUNCTION pytake_ensure_message_partitions(months_ahead integer DEFAULT 3,
                                                 months_back integer DEFAULT 0)
RETURNS SETOF text LANGUAGE plpgsql AS $fn$
DECLARE
    v_base date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    v_name text;
BEGIN
    -- One caller at a time (several workers may run the periodic task).
    PERFORM pg_advisory_xact_lock(hashtext('pytake_ensure_message_partitions'));
    FOR i IN -months_back .. months_ahead LOOP
        v_name := pytake_create_message_partition((v_base + make_interval(months => i))::date);
        IF v_name IS NOT NULL THEN
            RETURN NEXT v_name;
        END IF;
    END LOOP;
END
$fn$;
"""

WHATSAPP_ID_SYNC = r"""
CREATE FUNCTION pytake_messages_whatsapp_id_sync() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.whatsapp_message_id IS NOT NULL
           AND coalesce(current_setting('pytake.moving_messages', true), '') <> 'on' THEN
            DELETE FROM message_whatsapp_ids
             WHERE whatsapp_message_id = OLD.whatsapp_message_id AND message_id = OLD.id;
        END IF;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.whatsapp_message_id IS NOT NULL
       AND OLD.whatsapp_message_id IS DISTINCT FROM NEW.whatsapp_message_id THEN
        DELETE FROM message_whatsapp_ids
         WHERE whatsapp_message_id = OLD.whatsapp_message_id AND message_id = OLD.id;
    END IF;
    IF NEW.whatsapp_message_id IS NULL THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.whatsapp_message_id IS NOT DISTINCT FROM NEW.whatsapp_message_id THEN
        UPDATE message_whatsapp_ids SET message_created_at = NEW.created_at
         WHERE whatsapp_message_id = NEW.whatsapp_message_id AND message_id = NEW.id;
        RETURN NEW;
    END IF;
    INSERT INTO message_whatsapp_ids (whatsapp_message_id, message_id, message_created_at)
    VALUES (NEW.whatsapp_message_id, NEW.id, NEW.created_at)
    ON CONFLICT (whatsapp_message_id) DO NOTHING;
    IF NOT FOUND THEN
        -- Either claimed beforehand for this very message, or a duplicate.
        UPDATE message_whatsapp_ids SET message_created_at = NEW.created_at
         WHERE whatsapp_message_id = NEW.whatsapp_message_id AND message_id = NEW.id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'duplicate key value violates unique constraint "messages_whatsapp_message_id_key"'
                USING ERRCODE = 'unique_violation',
                      CONSTRAINT = 'messages_whatsapp_message_id_key',
                      TABLE = 'messages',
                      COLUMN = 'whatsapp_message_id',
                      DETAIL = format('Key (whatsapp_message_id)=(%s) already exists.', NEW.whatsapp_message_id);
        END IF;
    END IF;
    RETURN NEW;
END
$fn$;
"""

WHATSAPP_ID_TRIGGER = r"""
CREATE TRIGGER messages_whatsapp_id_sync
AFTER INSERT OR UPDATE OF whatsapp_message_id, created_at OR DELETE ON messages
FOR EACH ROW EXECUTE FUNCTION pytake_messages_whatsapp_id_sync();
"""


def upgrade() -> None:
    op.execute("CREATE TABLE IF NOT EXISTS messages_default PARTITION OF messages DEFAULT")
    op.execute(CREATE_PARTITION)
    op.execute(ENSURE_PARTITIONS)
    op.execute(WHATSAPP_ID_SYNC)
    op.execute(WHATSAPP_ID_TRIGGER)
    op.execute("SELECT pytake_ensure_message_partitions(3)")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS messages_whatsapp_id_sync ON messages")
    op.execute("DROP FUNCTION IF EXISTS pytake_messages_whatsapp_id_sync()")
    op.execute("DROP FUNCTION IF EXISTS pytake_ensure_message_partitions(integer, integer)")
    op.execute("DROP FUNCTION IF EXISTS pytake_create_message_partition(date)")
    # The partitions stay: they hold the messages (0001's downgrade drops them
    # with `messages`), and without them no message could be stored.
