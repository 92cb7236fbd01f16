"""wallets.held_traffic: the part of `held` that traffic-kind holds reserve, so every
operation can keep the normal-kind holds covered by the funds they may use

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 23:50:00.000000
"""
import sqlalchemy as sa
from alembic import op

import adapters.postgres.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('wallets') as batch:
        batch.add_column(sa.Column('held_traffic', adapters.postgres.types.Money(), nullable=False,
                                   server_default='0'))
    op.execute("UPDATE wallets SET held_traffic = COALESCE((SELECT sum(h.amount) FROM wallet_holds h "
               "WHERE h.org_id = wallets.org_id AND h.status = 'active' AND h.coupon_kind = 'traffic'), 0)")
    with op.batch_alter_table('wallets') as batch:
        batch.create_check_constraint('held_traffic_within_held', 'held_traffic >= 0 AND held_traffic <= held')


def downgrade() -> None:
    with op.batch_alter_table('wallets') as batch:
        batch.drop_constraint('held_traffic_within_held', type_='check')
        batch.drop_column('held_traffic')
