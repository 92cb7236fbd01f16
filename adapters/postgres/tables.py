"""Table definitions of every module. Alembic migrations are the source of truth for
the schema in production; this metadata is what they are generated from."""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from adapters.postgres.types import TagList, UTCDateTime

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

ID = 40

# --- shared plumbing -------------------------------------------------------

outbox = Table(
    "outbox", metadata,
    Column("id", String(ID), primary_key=True),
    Column("event_name", String(100), nullable=False),
    Column("handler", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("scope", String(100), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", String(12), nullable=False),
    Column("response_status", Integer),
    Column("response_body", Text),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)

rate_limit_hits = Table(
    "rate_limit_hits", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_rate_limit_hits_key_at", "key", "at"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", String(ID), primary_key=True),
    Column("org_id", String(ID), index=True),
    Column("actor_id", String(ID)),
    Column("acting_for_org_id", String(ID)),
    Column("operation", String(100), nullable=False),
    Column("target", String(200), nullable=False),
    Column("summary", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("request_id", String(64)),
    Index("ix_audit_log_org_at", "org_id", "at"),
)

inbox_messages = Table(
    "inbox_messages", metadata,
    Column("id", String(ID), primary_key=True),
    Column("user_id", String(ID), nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("read_at", UTCDateTime),
    Column("source_id", String(80), unique=True),
    Index("ix_inbox_messages_user_created", "user_id", "created_at"),
)

# --- identity ------------------------------------------------------------------

organizations = Table(
    "organizations", metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("kinds", TagList, nullable=False),
    Column("registration_type", String(20)),
    Column("registration_number", String(40)),
    Column("require_sms_login", Boolean, nullable=False, default=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("registration_type", "registration_number", name="uq_organizations_registration"),
)

departments = Table(
    "departments", metadata,
    Column("id", String(ID), primary_key=True),
    Column("org_id", String(ID), ForeignKey("organizations.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("parent_id", String(ID), ForeignKey("departments.id")),
    Column("created_at", UTCDateTime, nullable=False),
)

users = Table(
    "users", metadata,
    Column("id", String(ID), primary_key=True),
    Column("org_id", String(ID), ForeignKey("organizations.id"), nullable=False, index=True),
    Column("login", String(64), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("phone", String(20), unique=True),
    Column("email", String(200)),
    Column("roles", TagList, nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("must_change_password", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("department_id", String(ID), ForeignKey("departments.id"), index=True),
    Column("position", String(10)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("password_changed_at", UTCDateTime),
)

org_relations = Table(
    "org_relations", metadata,
    Column("id", String(ID), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("from_org_id", String(ID), ForeignKey("organizations.id"), nullable=False),
    Column("to_org_id", String(ID), ForeignKey("organizations.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("kind", "from_org_id", "to_org_id", name="uq_org_relations_pair"),
    Index("ix_org_relations_to", "to_org_id", "kind"),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(ID), primary_key=True),
    Column("org_id", String(ID), ForeignKey("organizations.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("prefix", String(20), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(ID)),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
)

sms_challenges = Table(
    "sms_challenges", metadata,
    Column("id", String(ID), primary_key=True),
    Column("phone", String(20), nullable=False),
    Column("purpose", String(20), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("code_hash", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("consumed_at", UTCDateTime),
    Index("ix_sms_challenges_phone_created", "phone", "created_at"),
)

# --- sandbox payment gateway -----------------------------------------------
# Owned by adapters/payment/sandbox.py: the embedded gateway's own books (what a real
# gateway would keep on its side). The wallet never reads these tables.

sandbox_payments = Table(
    "sandbox_payments", metadata,
    Column("id", String(ID), primary_key=True),  # the gateway's trade_no
    Column("out_trade_no", String(64), nullable=False, unique=True),
    Column("amount", Numeric(18, 2), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("notify_url", String(500), nullable=False),
    Column("return_url", String(500)),
    Column("status", String(10), nullable=False),  # pending | paid | failed
    Column("refunded", Numeric(18, 2), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("settled_at", UTCDateTime),
)

sandbox_refunds = Table(
    "sandbox_refunds", metadata,
    Column("refund_no", String(64), primary_key=True),
    Column("payment_id", String(ID), ForeignKey("sandbox_payments.id"), nullable=False, index=True),
    Column("amount", Numeric(18, 2), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("status", String(10), nullable=False),  # succeeded | failed
    Column("created_at", UTCDateTime, nullable=False),
)
