"""idempotency_keys.lease / locked_at: a key is held under a lease; a retry takes over
a key whose holder died, and the effect commits only while its holder holds the key

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 01:50:00.000000
"""
import sqlalchemy as sa
from alembic import op

import adapters.postgres.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('idempotency_keys') as batch:
        batch.add_column(sa.Column('lease', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('locked_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True))
    # a key left in progress before leases existed may have taken effect (its holder died
    # after the commit): it becomes "applied", so a retry, once it is a lease old, replays
    # without effect — never runs a second time
    op.execute("UPDATE idempotency_keys SET status = 'applied', locked_at = created_at "
               "WHERE status = 'in_progress'")


def downgrade() -> None:
    # without leases a key whose effect committed without an answer must stay refused
    # (in progress until it expires), never run again
    op.execute("UPDATE idempotency_keys SET status = 'in_progress' WHERE status IN ('applied', 'replaying')")
    with op.batch_alter_table('idempotency_keys') as batch:
        batch.drop_column('locked_at')
        batch.drop_column('lease')
