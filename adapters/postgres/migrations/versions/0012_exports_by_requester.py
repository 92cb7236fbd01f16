"""The task centre lists a caller's own exports: an index on who requested them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 04:00:00.000000
"""
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_export_jobs_requester_created", "export_jobs", ["requested_by", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_export_jobs_requester_created", table_name="export_jobs")
