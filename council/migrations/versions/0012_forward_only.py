"""forward only: what closed stays closed, and the audit trail is append-only

Whoever holds the database cannot reopen a closed poll (which would unfreeze its ballots and let
its result be re-pointed), move a poll's state backwards, change a closed poll at all, make an
opened review window open later, reopen or move one once it has closed, or rewrite and remove
audit rows. The app only ever moves a poll scheduled -> open -> closed and only shortens (closes
early) or extends an open window, so it never meets these triggers. Triggers are not part of the
models; SQLite loses them when a table is rebuilt by a batch alteration: a later migration that
batch-alters polls, review_windows or audit_events must call create_forward_only_triggers() again.

Revision ID: 0012_forward_only
Revises: 0011_sealed_state
Create Date: 2026-12-03 11:30:00.000000

"""
from alembic import op


POLL_MESSAGE = "a poll only moves forward, and a closed poll is final"
WINDOW_MESSAGE = "a review window that has opened cannot be made to open later, and one that has closed is final"
AUDIT_MESSAGE = "the audit trail is append-only"

# scheduled -> open -> closed, as ranks the triggers can compare (in brackets: PL/pgSQL ends an IF
# condition at the first THEN outside them).
_POLL_RANK = "(CASE {row}.state WHEN 'scheduled' THEN 0 WHEN 'open' THEN 1 ELSE 2 END)"
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def _create_postgresql():
    op.execute(f"""
        CREATE FUNCTION council_refuse_poll_going_back() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                IF OLD.state <> 'scheduled' THEN
                    RAISE EXCEPTION '{POLL_MESSAGE}' USING ERRCODE = 'restrict_violation';
                END IF;
                RETURN OLD;
            END IF;
            IF OLD.state = 'closed' AND NEW IS DISTINCT FROM OLD
               OR {_POLL_RANK.format(row="NEW")} < {_POLL_RANK.format(row="OLD")} THEN
                RAISE EXCEPTION '{POLL_MESSAGE}' USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql""")
    op.execute("""
        CREATE TRIGGER polls_forward_only BEFORE UPDATE OR DELETE ON polls
        FOR EACH ROW EXECUTE FUNCTION council_refuse_poll_going_back()""")
    # clock_timestamp(), not now(): a long transaction must not see a window as still open.
    op.execute(f"""
        CREATE FUNCTION council_refuse_window_going_back() RETURNS trigger AS $$
        BEGIN
            IF OLD.closes_at <= clock_timestamp()
               OR TG_OP = 'UPDATE' AND OLD.opens_at <= clock_timestamp() AND NEW.opens_at > clock_timestamp()
               OR TG_OP = 'UPDATE' AND NEW.revision_id <> OLD.revision_id THEN
                RAISE EXCEPTION '{WINDOW_MESSAGE}' USING ERRCODE = 'restrict_violation';
            END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql""")
    op.execute("""
        CREATE TRIGGER review_windows_forward_only BEFORE UPDATE OR DELETE ON review_windows
        FOR EACH ROW EXECUTE FUNCTION council_refuse_window_going_back()""")
    op.execute(f"""
        CREATE FUNCTION council_refuse_audit_change() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION '{AUDIT_MESSAGE}' USING ERRCODE = 'restrict_violation';
        END $$ LANGUAGE plpgsql""")
    op.execute("""
        CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION council_refuse_audit_change()""")


def _create_sqlite():
    closed_poll_changed = " OR ".join(
        f"NEW.{column} IS NOT OLD.{column}"
        for column in (
            "id", "revision_id", "section_key", "question", "explanation", "kind", "score_min", "score_max",
            "opens_at", "closes_at", "state", "min_ballots", "created_by_id",
        )
    )
    op.execute(f"""
        CREATE TRIGGER polls_forward_only_update BEFORE UPDATE ON polls
        WHEN OLD.state = 'closed' AND ({closed_poll_changed})
          OR {_POLL_RANK.format(row="NEW")} < {_POLL_RANK.format(row="OLD")}
        BEGIN SELECT RAISE(ABORT, '{POLL_MESSAGE}'); END""")
    op.execute(f"""
        CREATE TRIGGER polls_forward_only_delete BEFORE DELETE ON polls
        WHEN OLD.state <> 'scheduled'
        BEGIN SELECT RAISE(ABORT, '{POLL_MESSAGE}'); END""")
    # Times are stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC, so they compare as text with SQLite's clock.
    op.execute(f"""
        CREATE TRIGGER review_windows_forward_only_update BEFORE UPDATE ON review_windows
        WHEN OLD.closes_at <= {_SQLITE_NOW}
          OR OLD.opens_at <= {_SQLITE_NOW} AND NEW.opens_at > {_SQLITE_NOW}
          OR NEW.revision_id IS NOT OLD.revision_id
        BEGIN SELECT RAISE(ABORT, '{WINDOW_MESSAGE}'); END""")
    op.execute(f"""
        CREATE TRIGGER review_windows_forward_only_delete BEFORE DELETE ON review_windows
        WHEN OLD.closes_at <= {_SQLITE_NOW}
        BEGIN SELECT RAISE(ABORT, '{WINDOW_MESSAGE}'); END""")
    for event in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER audit_events_no_{event.lower()} BEFORE {event} ON audit_events
            BEGIN SELECT RAISE(ABORT, '{AUDIT_MESSAGE}'); END""")


def create_forward_only_triggers():
    if op.get_bind().dialect.name == "postgresql":
        _create_postgresql()
    else:
        _create_sqlite()


def drop_forward_only_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS polls_forward_only ON polls")
        op.execute("DROP TRIGGER IF EXISTS review_windows_forward_only ON review_windows")
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS council_refuse_poll_going_back()")
        op.execute("DROP FUNCTION IF EXISTS council_refuse_window_going_back()")
        op.execute("DROP FUNCTION IF EXISTS council_refuse_audit_change()")
        return
    for name in (
        "polls_forward_only_update",
        "polls_forward_only_delete",
        "review_windows_forward_only_update",
        "review_windows_forward_only_delete",
        "audit_events_no_update",
        "audit_events_no_delete",
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")


# revision identifiers, used by Alembic.
revision = '0012_forward_only'
down_revision = '0011_sealed_state'
branch_labels = None
depends_on = None


def upgrade():
    create_forward_only_triggers()


def downgrade():
    drop_forward_only_triggers()
