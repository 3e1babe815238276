"""flag reasons: each flag carries the reason its sender chose and an optional note for moderators

``comment_flags.reason`` is a ``HideReason``; flags sent before reasons were asked for read "other",
the one reason that claims nothing about them. ``comment_flags.note`` is the sender's short note,
empty when they wrote none. Neither names the sender nor says when the flag was sent. Plain ADD
COLUMN on both engines: on SQLite a batch copy would have to rebuild the table ``WITHOUT ROWID``.

Revision ID: 0016_flag_reasons
Revises: 0015_sealed_state_layer
Create Date: 2026-12-03 19:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_flag_reasons'
down_revision = '0015_sealed_state_layer'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('comment_flags', sa.Column('reason', sa.String(length=24), server_default='other', nullable=False))
    op.add_column('comment_flags', sa.Column('note', sa.String(length=300), server_default='', nullable=False))


def downgrade():
    # Plain DROP COLUMN (SQLite 3.35 and later), for the same reason as above.
    op.drop_column('comment_flags', 'note')
    op.drop_column('comment_flags', 'reason')
