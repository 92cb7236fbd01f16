"""workflow: templates, service products, calendars, projects

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import adapters.postgres.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_days',
    sa.Column('owner', sa.String(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.PrimaryKeyConstraint('owner', 'day', name=op.f('pk_calendar_days'))
    )
    op.create_table('flow_templates',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('owner_org_id', sa.String(length=40), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('latest_status', sa.String(length=20), nullable=False),
    sa.Column('copied_from', sa.String(length=40), nullable=True),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flow_templates'))
    )
    with op.batch_alter_table('flow_templates', schema=None) as batch_op:
        batch_op.create_index('ix_flow_templates_latest_status', ['latest_status'], unique=False)
        batch_op.create_index('ix_flow_templates_owner', ['owner_org_id', 'created_at'], unique=False)
        batch_op.create_index('ix_flow_templates_public', ['public', 'created_at'], unique=False)

    op.create_table('form_templates',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_templates'))
    )
    op.create_table('message_templates',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('remark', sa.String(length=500), nullable=True),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_templates')),
    sa.UniqueConstraint('name', name=op.f('uq_message_templates_name'))
    )
    op.create_table('flow_template_versions',
    sa.Column('template_id', sa.String(length=40), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('nodes', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sa.String(length=40), nullable=True),
    sa.Column('review_remark', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['template_id'], ['flow_templates.id'], name=op.f('fk_flow_template_versions_template_id_flow_templates')),
    sa.PrimaryKeyConstraint('template_id', 'number', name=op.f('pk_flow_template_versions'))
    )
    op.create_table('service_products',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('vendor_org_id', sa.String(length=40), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('template_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['template_id'], ['flow_templates.id'], name=op.f('fk_service_products_template_id_flow_templates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_products')),
    sa.UniqueConstraint('vendor_org_id', 'code', name='uq_service_products_vendor_code')
    )
    with op.batch_alter_table('service_products', schema=None) as batch_op:
        batch_op.create_index('ix_service_products_code', ['code'], unique=False)
        batch_op.create_index('ix_service_products_name', ['name'], unique=False)
        batch_op.create_index('ix_service_products_template', ['template_id'], unique=False)

    op.create_table('projects',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('order_no', sa.String(length=64), nullable=False),
    sa.Column('business_no', sa.String(length=64), nullable=True),
    sa.Column('product_id', sa.String(length=40), nullable=False),
    sa.Column('template_id', sa.String(length=40), nullable=False),
    sa.Column('template_version', sa.Integer(), nullable=False),
    sa.Column('vendor_org_id', sa.String(length=40), nullable=False),
    sa.Column('customer_org_id', sa.String(length=40), nullable=False),
    sa.Column('provider_org_id', sa.String(length=40), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('current_node_id', sa.String(length=40), nullable=True),
    sa.Column('current_node_name', sa.String(length=100), nullable=True),
    sa.Column('current_node_type', sa.String(length=30), nullable=True),
    sa.Column('current_side', sa.String(length=10), nullable=True),
    sa.Column('current_role', sa.String(length=40), nullable=True),
    sa.Column('current_operator_id', sa.String(length=40), nullable=True),
    sa.Column('overdue_side', sa.String(length=10), nullable=True),
    sa.Column('overdue', sa.Boolean(), nullable=False),
    sa.Column('spec', sa.String(length=100), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('claimed_by', sa.String(length=40), nullable=True),
    sa.Column('claim_department_id', sa.String(length=40), nullable=True),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('role_operators', sa.JSON(), nullable=False),
    sa.Column('created_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('paused_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['product_id'], ['service_products.id'], name=op.f('fk_projects_product_id_service_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('order_no', name=op.f('uq_projects_order_no'))
    )
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.create_index('ix_projects_completed_at', ['completed_at'], unique=False)
        batch_op.create_index('ix_projects_customer_status', ['customer_org_id', 'status', 'created_at'], unique=False)
        batch_op.create_index('ix_projects_operator', ['current_operator_id'], unique=False)
        batch_op.create_index('ix_projects_product', ['product_id'], unique=False)
        batch_op.create_index('ix_projects_provider_status', ['provider_org_id', 'status', 'created_at'], unique=False)
        batch_op.create_index('ix_projects_status_created', ['status', 'created_at'], unique=False)
        batch_op.create_index('ix_projects_vendor_status', ['vendor_org_id', 'status', 'created_at'], unique=False)

    op.create_table('project_evaluations',
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('by_user_id', sa.String(length=40), nullable=True),
    sa.Column('at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_evaluations_project_id_projects')),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_project_evaluations'))
    )
    op.create_table('project_files',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('node_instance_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('uploader_id', sa.String(length=40), nullable=True),
    sa.Column('uploaded_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_files_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_files'))
    )
    with op.batch_alter_table('project_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_files_project_id'), ['project_id'], unique=False)

    op.create_table('project_log',
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('node_instance_id', sa.String(length=40), nullable=True),
    sa.Column('actor_id', sa.String(length=40), nullable=True),
    sa.Column('actor_name', sa.String(length=100), nullable=False),
    sa.Column('actor_role', sa.String(length=40), nullable=False),
    sa.Column('remark', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_log_project_id_projects')),
    sa.PrimaryKeyConstraint('project_id', 'seq', name=op.f('pk_project_log'))
    )
    op.create_table('project_nodes',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=30), nullable=False),
    sa.Column('side', sa.String(length=10), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=True),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('entered_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deadline', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('operator_id', sa.String(length=40), nullable=True),
    sa.Column('finished_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_by', sa.String(length=40), nullable=True),
    sa.Column('outcome', sa.String(length=30), nullable=True),
    sa.Column('remark', sa.String(length=500), nullable=True),
    sa.Column('overdue', sa.Boolean(), nullable=False),
    sa.Column('timeout_fired_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('timer_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('waiting_reason', sa.String(length=200), nullable=True),
    sa.Column('waiting_since', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('waiting_updated_at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('requirements', sa.JSON(), nullable=True),
    sa.Column('decision', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_nodes_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_nodes')),
    sa.UniqueConstraint('project_id', 'seq', name='uq_project_nodes_project_seq')
    )
    with op.batch_alter_table('project_nodes', schema=None) as batch_op:
        batch_op.create_index('ix_project_nodes_finished_by', ['finished_by'], unique=False)
        batch_op.create_index('ix_project_nodes_timer', ['timer_at'], unique=False, postgresql_where=sa.text('timer_at IS NOT NULL'), sqlite_where=sa.text('timer_at IS NOT NULL'))

    op.create_table('project_participants',
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('since', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_participants_project_id_projects')),
    sa.PrimaryKeyConstraint('project_id', 'user_id', name=op.f('pk_project_participants'))
    )
    with op.batch_alter_table('project_participants', schema=None) as batch_op:
        batch_op.create_index('ix_project_participants_user', ['user_id'], unique=False)

    op.create_table('project_posts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('author_id', sa.String(length=40), nullable=True),
    sa.Column('author_name', sa.String(length=100), nullable=False),
    sa.Column('author_role', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('at', adapters.postgres.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_posts_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_posts'))
    )
    with op.batch_alter_table('project_posts', schema=None) as batch_op:
        batch_op.create_index('ix_project_posts_project', ['project_id', 'kind', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('project_posts', schema=None) as batch_op:
        batch_op.drop_index('ix_project_posts_project')

    op.drop_table('project_posts')
    with op.batch_alter_table('project_participants', schema=None) as batch_op:
        batch_op.drop_index('ix_project_participants_user')

    op.drop_table('project_participants')
    with op.batch_alter_table('project_nodes', schema=None) as batch_op:
        batch_op.drop_index('ix_project_nodes_finished_by')
        batch_op.drop_index('ix_project_nodes_timer')

    op.drop_table('project_nodes')
    op.drop_table('project_log')
    with op.batch_alter_table('project_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_files_project_id'))

    op.drop_table('project_files')
    op.drop_table('project_evaluations')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_index('ix_projects_completed_at')
        batch_op.drop_index('ix_projects_customer_status')
        batch_op.drop_index('ix_projects_operator')
        batch_op.drop_index('ix_projects_product')
        batch_op.drop_index('ix_projects_provider_status')
        batch_op.drop_index('ix_projects_status_created')
        batch_op.drop_index('ix_projects_vendor_status')

    op.drop_table('projects')
    with op.batch_alter_table('service_products', schema=None) as batch_op:
        batch_op.drop_index('ix_service_products_code')
        batch_op.drop_index('ix_service_products_name')
        batch_op.drop_index('ix_service_products_template')

    op.drop_table('service_products')
    op.drop_table('flow_template_versions')
    op.drop_table('message_templates')
    op.drop_table('form_templates')
    with op.batch_alter_table('flow_templates', schema=None) as batch_op:
        batch_op.drop_index('ix_flow_templates_latest_status')
        batch_op.drop_index('ix_flow_templates_owner')
        batch_op.drop_index('ix_flow_templates_public')

    op.drop_table('flow_templates')
    op.drop_table('calendar_days')
