"""wallet: double-entry ledger, wallets, coupons, holds, recharges, withdrawals, agreements;
export jobs (the generic task centre the wallet statement export runs in)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 14:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import adapters.postgres.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('export_jobs',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('requested_by', sa.String(length=40), nullable=True),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('file_name', sa.String(length=200), nullable=True),
    sa.Column('row_count', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_jobs'))
    )
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_export_jobs_org_created', ['org_id', 'created_at'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('amount', adapters.postgres.types.Money(), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=True),
    sa.Column('unique_key', sa.String(length=200), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('actor_id', sa.String(length=40), nullable=True),
    sa.Column('counterparty_org_id', sa.String(length=40), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('unique_key', name=op.f('uq_ledger_entries_unique_key'))
    )

    op.create_table('wallet_coupon_grants',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('amount', adapters.postgres.types.Money(), nullable=False),
    sa.Column('remaining', adapters.postgres.types.Money(), nullable=False),
    sa.Column('expires_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('granted_by', sa.String(length=40), nullable=False),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lapsed_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('remaining >= 0 AND remaining <= amount', name=op.f('ck_wallet_coupon_grants_remaining_in_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wallet_coupon_grants'))
    )
    with op.batch_alter_table('wallet_coupon_grants', schema=None) as batch_op:
        batch_op.create_index('ix_wallet_coupon_grants_live', ['expires_at'], unique=False, postgresql_where=sa.text('remaining > 0'), sqlite_where=sa.text('remaining > 0'))
        batch_op.create_index('ix_wallet_coupon_grants_org', ['org_id', 'expires_at'], unique=False)

    op.create_table('wallet_holds',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('amount', adapters.postgres.types.Money(), nullable=False),
    sa.Column('coupon_kind', sa.String(length=10), nullable=False),
    sa.Column('expires_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('captured', adapters.postgres.types.Money(), nullable=False),
    sa.Column('settled_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('entry_id', sa.String(length=40), nullable=True),
    sa.Column('settle_entry_id', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wallet_holds')),
    sa.UniqueConstraint('org_id', 'reference', name='uq_wallet_holds_org_reference')
    )
    with op.batch_alter_table('wallet_holds', schema=None) as batch_op:
        batch_op.create_index('ix_wallet_holds_active_expiry', ['expires_at'], unique=False, postgresql_where=sa.text("status = 'active'"), sqlite_where=sa.text("status = 'active'"))
        batch_op.create_index('ix_wallet_holds_org_created', ['org_id', 'created_at'], unique=False)

    op.create_table('wallet_recharges',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('amount', adapters.postgres.types.Money(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=True),
    sa.Column('payment_url', sa.String(length=500), nullable=True),
    sa.Column('gateway_trade_no', sa.String(length=64), nullable=True),
    sa.Column('paid_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('entry_id', sa.String(length=40), nullable=True),
    sa.Column('credit_repaid', adapters.postgres.types.Money(), nullable=False),
    sa.Column('refunded', adapters.postgres.types.Money(), nullable=False),
    sa.Column('revoked_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoke_entry_id', sa.String(length=40), nullable=True),
    sa.Column('flag', sa.String(length=500), nullable=True),
    sa.Column('failure', sa.String(length=500), nullable=False),
    sa.CheckConstraint('refunded >= 0 AND refunded <= amount', name=op.f('ck_wallet_recharges_refunded_in_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wallet_recharges'))
    )
    with op.batch_alter_table('wallet_recharges', schema=None) as batch_op:
        batch_op.create_index('ix_wallet_recharges_org_created', ['org_id', 'created_at'], unique=False)
        batch_op.create_index('ix_wallet_recharges_pending', ['created_at'], unique=False, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))

    op.create_table('withholding_agreements',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('account', sa.String(length=100), nullable=False),
    sa.Column('account_name', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=True),
    sa.Column('confirmed_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by', sa.String(length=40), nullable=True),
    sa.Column('revoked_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_withholding_agreements'))
    )
    with op.batch_alter_table('withholding_agreements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_withholding_agreements_org_id'), ['org_id'], unique=False)

    op.create_table('ledger_postings',
    sa.Column('entry_id', sa.String(length=40), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('owner', sa.String(length=40), nullable=False),
    sa.Column('account', sa.String(length=30), nullable=False),
    sa.Column('grant_id', sa.String(length=40), nullable=True),
    sa.Column('amount', adapters.postgres.types.Money(), nullable=False),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_ledger_postings_amount_not_zero')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_ledger_postings_entry_id_ledger_entries')),
    sa.PrimaryKeyConstraint('entry_id', 'n', name=op.f('pk_ledger_postings'))
    )
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_postings_owner_created', ['owner', 'created_at'], unique=False, postgresql_where=sa.text("owner <> 'platform' AND owner <> 'external'"), sqlite_where=sa.text("owner <> 'platform' AND owner <> 'external'"))

    op.create_table('wallet_lines',
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('local_day', sa.String(length=10), nullable=False),
    sa.Column('amount', adapters.postgres.types.Money(), nullable=False),
    sa.Column('cash', adapters.postgres.types.Money(), nullable=False),
    sa.Column('normal_coupon', adapters.postgres.types.Money(), nullable=False),
    sa.Column('traffic_coupon', adapters.postgres.types.Money(), nullable=False),
    sa.Column('post_pay', adapters.postgres.types.Money(), nullable=False),
    sa.Column('after_cash', adapters.postgres.types.Money(), nullable=False),
    sa.Column('after_coupons_normal', adapters.postgres.types.Money(), nullable=False),
    sa.Column('after_coupons_traffic', adapters.postgres.types.Money(), nullable=False),
    sa.Column('after_credit_limit', adapters.postgres.types.Money(), nullable=False),
    sa.Column('after_credit_used', adapters.postgres.types.Money(), nullable=False),
    sa.Column('after_held', adapters.postgres.types.Money(), nullable=False),
    sa.Column('after_deposit_due', adapters.postgres.types.Money(), nullable=False),
    sa.Column('after_deposit_paid', adapters.postgres.types.Money(), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=True),
    sa.Column('counterparty_org_id', sa.String(length=40), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_wallet_lines_entry_id_ledger_entries')),
    sa.PrimaryKeyConstraint('org_id', 'seq', name=op.f('pk_wallet_lines'))
    )
    with op.batch_alter_table('wallet_lines', schema=None) as batch_op:
        batch_op.create_index('ix_wallet_lines_org_created', ['org_id', 'created_at'], unique=False)
        batch_op.create_index('ix_wallet_lines_org_reference', ['org_id', 'reference'], unique=False)

    op.create_table('wallet_withdrawals',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('recharge_id', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('amount', adapters.postgres.types.Money(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('settled_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.Column('entry_id', sa.String(length=40), nullable=True),
    sa.Column('settle_entry_id', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['recharge_id'], ['wallet_recharges.id'], name=op.f('fk_wallet_withdrawals_recharge_id_wallet_recharges')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wallet_withdrawals'))
    )
    with op.batch_alter_table('wallet_withdrawals', schema=None) as batch_op:
        batch_op.create_index('ix_wallet_withdrawals_org_created', ['org_id', 'created_at'], unique=False)
        batch_op.create_index('ix_wallet_withdrawals_pending', ['created_at'], unique=False, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))

    op.create_table('wallets',
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('cash', adapters.postgres.types.Money(), nullable=False),
    sa.Column('credit_limit', adapters.postgres.types.Money(), nullable=False),
    sa.Column('credit_used', adapters.postgres.types.Money(), nullable=False),
    sa.Column('held', adapters.postgres.types.Money(), nullable=False),
    sa.Column('deposit_due', adapters.postgres.types.Money(), nullable=False),
    sa.Column('deposit_paid', adapters.postgres.types.Money(), nullable=False),
    sa.Column('coupons_normal', adapters.postgres.types.Money(), nullable=False),
    sa.Column('coupons_traffic', adapters.postgres.types.Money(), nullable=False),
    sa.Column('daily_budget', adapters.postgres.types.Money(), nullable=True),
    sa.Column('spent_day', sa.Date(), nullable=True),
    sa.Column('spent_today', adapters.postgres.types.Money(), nullable=False),
    sa.Column('low_balance_threshold', adapters.postgres.types.Money(), nullable=True),
    sa.Column('low_balance_alerted', sa.Boolean(), nullable=False),
    sa.Column('withholding_active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('cash >= 0', name=op.f('ck_wallets_cash_not_negative')),
    sa.CheckConstraint('coupons_normal >= 0 AND coupons_traffic >= 0', name=op.f('ck_wallets_coupons_not_negative')),
    sa.CheckConstraint('credit_used >= 0 AND credit_used <= credit_limit', name=op.f('ck_wallets_credit_within_limit')),
    sa.CheckConstraint('deposit_paid >= 0', name=op.f('ck_wallets_deposit_not_negative')),
    sa.CheckConstraint('held >= 0', name=op.f('ck_wallets_held_not_negative')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_wallets_org_id_organizations')),
    sa.PrimaryKeyConstraint('org_id', name=op.f('pk_wallets')),
    postgresql_with={'fillfactor': '70'}
    )
    with op.batch_alter_table('wallets', schema=None) as batch_op:
        batch_op.create_index('ix_wallets_threshold', ['org_id'], unique=False, postgresql_where=sa.text('low_balance_threshold IS NOT NULL'), sqlite_where=sa.text('low_balance_threshold IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_export_jobs_org_created')

    op.drop_table('export_jobs')
    with op.batch_alter_table('wallets', schema=None) as batch_op:
        batch_op.drop_index('ix_wallets_threshold', postgresql_where=sa.text('low_balance_threshold IS NOT NULL'), sqlite_where=sa.text('low_balance_threshold IS NOT NULL'))

    op.drop_table('wallets')
    with op.batch_alter_table('wallet_withdrawals', schema=None) as batch_op:
        batch_op.drop_index('ix_wallet_withdrawals_pending', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index('ix_wallet_withdrawals_org_created')

    op.drop_table('wallet_withdrawals')
    with op.batch_alter_table('wallet_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_wallet_lines_org_reference')
        batch_op.drop_index('ix_wallet_lines_org_created')

    op.drop_table('wallet_lines')
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_postings_owner_created', postgresql_where=sa.text("owner <> 'platform' AND owner <> 'external'"), sqlite_where=sa.text("owner <> 'platform' AND owner <> 'external'"))

    op.drop_table('ledger_postings')
    with op.batch_alter_table('withholding_agreements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_withholding_agreements_org_id'))

    op.drop_table('withholding_agreements')
    with op.batch_alter_table('wallet_recharges', schema=None) as batch_op:
        batch_op.drop_index('ix_wallet_recharges_pending', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index('ix_wallet_recharges_org_created')

    op.drop_table('wallet_recharges')
    with op.batch_alter_table('wallet_holds', schema=None) as batch_op:
        batch_op.drop_index('ix_wallet_holds_org_created')
        batch_op.drop_index('ix_wallet_holds_active_expiry', postgresql_where=sa.text("status = 'active'"), sqlite_where=sa.text("status = 'active'"))

    op.drop_table('wallet_holds')
    with op.batch_alter_table('wallet_coupon_grants', schema=None) as batch_op:
        batch_op.drop_index('ix_wallet_coupon_grants_org')
        batch_op.drop_index('ix_wallet_coupon_grants_live', postgresql_where=sa.text('remaining > 0'), sqlite_where=sa.text('remaining > 0'))

    op.drop_table('wallet_coupon_grants')
    op.drop_table('ledger_entries')
