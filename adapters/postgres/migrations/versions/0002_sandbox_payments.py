"""sandbox payments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 12:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import adapters.postgres.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sandbox_payments',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('out_trade_no', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('notify_url', sa.String(length=500), nullable=False),
    sa.Column('return_url', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('refunded', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('settled_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_payments')),
    sa.UniqueConstraint('out_trade_no', name=op.f('uq_sandbox_payments_out_trade_no'))
    )
    op.create_table('sandbox_refunds',
    sa.Column('refund_no', sa.String(length=64), nullable=False),
    sa.Column('payment_id', sa.String(length=40), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['payment_id'], ['sandbox_payments.id'], name=op.f('fk_sandbox_refunds_payment_id_sandbox_payments')),
    sa.PrimaryKeyConstraint('refund_no', name=op.f('pk_sandbox_refunds'))
    )
    with op.batch_alter_table('sandbox_refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_refunds_payment_id'), ['payment_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sandbox_refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_refunds_payment_id'))

    op.drop_table('sandbox_refunds')
    op.drop_table('sandbox_payments')
