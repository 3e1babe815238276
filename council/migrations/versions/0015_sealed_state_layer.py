"""sealed state layer: each sealed_state value sealed again under a key derived from the mix's epoch key

No column changes. From now on a stored value is the person's sealed value sealed again under the
epoch's layer key, and every flush seals every row afresh (``council/accounts/state.py``). The rows
already stored are wrapped under the current epoch key when it can be reached (the instance folder's
key file or the configured Redis, as the app finds it); otherwise they are dropped: they are only
preferences (a language, reading places, "seen up to"), saved again the next time the person chooses
a language, reads or opens their notices. Going down, they are unwrapped the same way, or dropped.

Revision ID: 0015_sealed_state_layer
Revises: 0014_second_factor
Create Date: 2026-12-03 11:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_sealed_state_layer'
down_revision = '0014_second_factor'
branch_labels = None
depends_on = None

_rows = sa.table('sealed_state', sa.column('id', sa.String()), sa.column('sealed', sa.LargeBinary()))


def _epoch_keys():
    """The mix's keys as the app reaches them, or None (no app around the migration, Redis away)."""
    try:
        from council.mix.keys import key_store

        return key_store().keys()
    except Exception:  # noqa: BLE001 - whatever keeps the key out of reach, the rows are only preferences
        return None


def _rewrite(change):
    """Each row's value through ``change`` (None drops the row); all rows dropped without the keys."""
    keys = _epoch_keys()
    bind = op.get_bind()
    if keys is None:
        bind.execute(sa.delete(_rows))
        return
    for row_id, sealed in bind.execute(sa.select(_rows.c.id, _rows.c.sealed)).all():
        value = change(keys, row_id, sealed)
        if value is None:
            bind.execute(sa.delete(_rows).where(_rows.c.id == row_id))
        else:
            bind.execute(sa.update(_rows).where(_rows.c.id == row_id).values(sealed=value))


def upgrade():
    from council.accounts.state import wrap

    _rewrite(lambda keys, row_id, sealed: wrap(keys.current, row_id, sealed))


def downgrade():
    from council.accounts.state import unwrap

    _rewrite(unwrap)
