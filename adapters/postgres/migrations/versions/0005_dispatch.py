"""dispatch: product providers, employee capacity, holdings, queue, decisions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

import adapters.postgres.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('product_providers',
    sa.Column('product_id', sa.String(length=40), nullable=False),
    sa.Column('provider_org_id', sa.String(length=40), nullable=False),
    sa.Column('vendor_org_id', sa.String(length=40), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('max_load', sa.Integer(), nullable=False),
    sa.Column('current_load', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('current_load >= 0', name=op.f('ck_product_providers_current_load_not_negative')),
    sa.CheckConstraint('weight BETWEEN 1 AND 100', name=op.f('ck_product_providers_weight_range')),
    sa.CheckConstraint('max_load BETWEEN 0 AND 2000', name=op.f('ck_product_providers_max_load_range')),
    sa.PrimaryKeyConstraint('product_id', 'provider_org_id', name=op.f('pk_product_providers'))
    )
    with op.batch_alter_table('product_providers', schema=None) as batch_op:
        batch_op.create_index('ix_product_providers_vendor', ['vendor_org_id'], unique=False)
        batch_op.create_index('ix_product_providers_provider', ['provider_org_id'], unique=False)

    op.create_table('employee_capacity',
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('max_load', sa.Integer(), nullable=False),
    sa.Column('accepting', sa.Boolean(), nullable=False),
    sa.Column('current_load', sa.Integer(), nullable=False),
    sa.Column('updated_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('current_load >= 0', name=op.f('ck_employee_capacity_current_load_not_negative')),
    sa.CheckConstraint('max_load BETWEEN 0 AND 50', name=op.f('ck_employee_capacity_max_load_range')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_employee_capacity'))
    )
    with op.batch_alter_table('employee_capacity', schema=None) as batch_op:
        batch_op.create_index('ix_employee_capacity_org', ['org_id', 'user_id'], unique=False)

    op.create_table('dispatch_holdings',
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('holder_id', sa.String(length=40), nullable=False),
    sa.Column('product_id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=True),
    sa.Column('at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('project_id', 'kind', 'holder_id', name=op.f('pk_dispatch_holdings'))
    )
    with op.batch_alter_table('dispatch_holdings', schema=None) as batch_op:
        batch_op.create_index('ix_dispatch_holdings_holder', ['kind', 'holder_id'], unique=False)

    op.create_table('dispatch_queue',
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('reason_code', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('queued_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('order_no', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.String(length=40), nullable=False),
    sa.Column('vendor_org_id', sa.String(length=40), nullable=True),
    sa.Column('customer_org_id', sa.String(length=40), nullable=False),
    sa.Column('provider_org_id', sa.String(length=40), nullable=True),
    sa.Column('role', sa.String(length=40), nullable=True),
    sa.Column('rule', sa.String(length=20), nullable=True),
    sa.Column('department_id', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('project_id', 'kind', name=op.f('pk_dispatch_queue'))
    )
    with op.batch_alter_table('dispatch_queue', schema=None) as batch_op:
        batch_op.create_index('ix_dispatch_queue_oldest', ['kind', 'queued_at', 'project_id'], unique=False)
        batch_op.create_index('ix_dispatch_queue_provider', ['provider_org_id', 'kind', 'queued_at', 'project_id'],
                              unique=False)
        batch_op.create_index('ix_dispatch_queue_product', ['product_id', 'kind', 'queued_at', 'project_id'],
                              unique=False)
        batch_op.create_index('ix_dispatch_queue_vendor', ['vendor_org_id', 'kind', 'queued_at'], unique=False)

    op.create_table('dispatch_decisions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('chosen', sa.String(length=40), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('via', sa.String(length=20), nullable=False),
    sa.Column('product_id', sa.String(length=40), nullable=False),
    sa.Column('vendor_org_id', sa.String(length=40), nullable=True),
    sa.Column('provider_org_id', sa.String(length=40), nullable=True),
    sa.Column('explanation', sa.JSON(), nullable=False),
    sa.Column('at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_decisions'))
    )
    with op.batch_alter_table('dispatch_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_dispatch_decisions_project', ['project_id', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dispatch_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_dispatch_decisions_project')
    op.drop_table('dispatch_decisions')
    with op.batch_alter_table('dispatch_queue', schema=None) as batch_op:
        batch_op.drop_index('ix_dispatch_queue_vendor')
        batch_op.drop_index('ix_dispatch_queue_product')
        batch_op.drop_index('ix_dispatch_queue_provider')
        batch_op.drop_index('ix_dispatch_queue_oldest')
    op.drop_table('dispatch_queue')
    with op.batch_alter_table('dispatch_holdings', schema=None) as batch_op:
        batch_op.drop_index('ix_dispatch_holdings_holder')
    op.drop_table('dispatch_holdings')
    with op.batch_alter_table('employee_capacity', schema=None) as batch_op:
        batch_op.drop_index('ix_employee_capacity_org')
    op.drop_table('employee_capacity')
    with op.batch_alter_table('product_providers', schema=None) as batch_op:
        batch_op.drop_index('ix_product_providers_provider')
        batch_op.drop_index('ix_product_providers_vendor')
    op.drop_table('product_providers')
