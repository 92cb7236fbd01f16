"""Table definitions of every module. Alembic migrations are the source of truth for
the schema in production; this metadata is what they are generated from."""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from adapters.postgres.types import Money, TagList, UTCDateTime

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
    Column("lease", String(32)),  # the holder's token (application/shared/idempotency.py)
    Column("locked_at", UTCDateTime),  # when it took the key; NULL: let go after a failure
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
    Column("amount", Money, nullable=False),
    Column("subject", String(200), nullable=False),
    Column("notify_url", String(500), nullable=False),
    Column("return_url", String(500)),
    Column("status", String(10), nullable=False),  # pending | paid | failed
    Column("refunded", Money, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("settled_at", UTCDateTime),
)

sandbox_refunds = Table(
    "sandbox_refunds", metadata,
    Column("refund_no", String(64), primary_key=True),
    Column("payment_id", String(ID), ForeignKey("sandbox_payments.id"), nullable=False, index=True),
    Column("amount", Money, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("status", String(10), nullable=False),  # succeeded | failed
    Column("created_at", UTCDateTime, nullable=False),
)

# --- dispatch ---------------------------------------------------------------
# Owned by the dispatch module. Loads are counters kept in step with the holdings
# they count, in the same transaction (docs/adr/0003-dispatch-capacity.md). Product,
# project and user ids are plain strings: products and projects belong to workflow.

product_providers = Table(
    "product_providers", metadata,
    Column("product_id", String(ID), primary_key=True),
    Column("provider_org_id", String(ID), primary_key=True),
    Column("vendor_org_id", String(ID), nullable=False),
    Column("weight", Integer, nullable=False),
    Column("max_load", Integer, nullable=False),
    Column("current_load", Integer, nullable=False, default=0),
    Column("active", Boolean, nullable=False, default=True),  # False: removed, kept while it holds load
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("current_load >= 0", name="current_load_not_negative"),
    CheckConstraint("weight BETWEEN 1 AND 100", name="weight_range"),
    CheckConstraint("max_load BETWEEN 0 AND 2000", name="max_load_range"),
    Index("ix_product_providers_vendor", "vendor_org_id"),
    Index("ix_product_providers_provider", "provider_org_id"),
)

employee_capacity = Table(
    "employee_capacity", metadata,
    Column("user_id", String(ID), primary_key=True),
    Column("org_id", String(ID), nullable=False),
    Column("max_load", Integer, nullable=False),
    Column("accepting", Boolean, nullable=False),
    Column("current_load", Integer, nullable=False, default=0),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("current_load >= 0", name="current_load_not_negative"),
    CheckConstraint("max_load BETWEEN 0 AND 50", name="max_load_range"),
    Index("ix_employee_capacity_org", "org_id", "user_id"),
)

dispatch_holdings = Table(
    "dispatch_holdings", metadata,
    Column("project_id", String(ID), primary_key=True),
    Column("kind", String(10), primary_key=True),  # provider | employee
    Column("holder_id", String(ID), primary_key=True),  # provider org id | user id
    Column("product_id", String(ID), nullable=False),
    Column("org_id", String(ID), nullable=False),  # the provider org (of the employee)
    Column("role", String(40)),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_dispatch_holdings_holder", "kind", "holder_id"),
)

dispatch_queue = Table(
    "dispatch_queue", metadata,
    Column("project_id", String(ID), primary_key=True),
    Column("kind", String(10), primary_key=True),  # provider | employee
    Column("reason_code", String(40), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("queued_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("order_no", String(64), nullable=False),
    Column("product_id", String(ID), nullable=False),
    Column("vendor_org_id", String(ID)),
    Column("customer_org_id", String(ID), nullable=False),
    Column("provider_org_id", String(ID)),
    Column("role", String(40)),
    Column("rule", String(20)),
    Column("department_id", String(ID)),
    Index("ix_dispatch_queue_oldest", "kind", "queued_at", "project_id"),
    Index("ix_dispatch_queue_provider", "provider_org_id", "kind", "queued_at", "project_id"),
    Index("ix_dispatch_queue_product", "product_id", "kind", "queued_at", "project_id"),
    Index("ix_dispatch_queue_vendor", "vendor_org_id", "kind", "queued_at"),
)

dispatch_decisions = Table(
    "dispatch_decisions", metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(ID), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("chosen", String(ID)),  # None: the project was queued
    Column("reason", String(200)),
    Column("via", String(20), nullable=False),  # assign | dispatch_now | sweep
    Column("product_id", String(ID), nullable=False),
    Column("vendor_org_id", String(ID)),
    Column("provider_org_id", String(ID)),
    Column("explanation", JSON, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_dispatch_decisions_project", "project_id", "at"),
)

# --- workflow ----------------------------------------------------------------
# Owned by adapters/postgres/workflow_repos.py. Queried columns are real columns with
# indexes; the rest of a template version's nodes and a node's form answers are JSON.
from sqlalchemy import Date  # noqa: E402 - kept with the section that needs it
from sqlalchemy import text as sql_text  # noqa: E402

form_templates = Table(
    "form_templates", metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("fields", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

message_templates = Table(
    "message_templates", metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),  # "<node>-<receiver>"
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("remark", String(500)),
    Column("created_at", UTCDateTime, nullable=False),
)

flow_templates = Table(
    "flow_templates", metadata,
    Column("id", String(ID), primary_key=True),
    Column("owner_org_id", String(ID), nullable=False),
    Column("public", Boolean, nullable=False),
    Column("name", String(100), nullable=False),  # the latest version's, for lists
    Column("latest_status", String(20), nullable=False),
    Column("copied_from", String(ID)),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_flow_templates_owner", "owner_org_id", "created_at"),
    Index("ix_flow_templates_public", "public", "created_at"),
    Index("ix_flow_templates_latest_status", "latest_status"),
)

flow_template_versions = Table(
    "flow_template_versions", metadata,
    Column("template_id", String(ID), ForeignKey("flow_templates.id"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=False),
    Column("nodes", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("submitted_at", UTCDateTime),
    Column("published_at", UTCDateTime),
    Column("reviewed_by", String(ID)),
    Column("review_remark", String(500)),
)

service_products = Table(
    "service_products", metadata,
    Column("id", String(ID), primary_key=True),
    Column("vendor_org_id", String(ID), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("template_id", String(ID), ForeignKey("flow_templates.id")),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("vendor_org_id", "code", name="uq_service_products_vendor_code"),
    Index("ix_service_products_template", "template_id"),
    Index("ix_service_products_name", "name"),
    Index("ix_service_products_code", "code"),
)

calendar_days = Table(
    "calendar_days", metadata,
    Column("owner", String(ID), primary_key=True),  # an organisation id, or "platform"
    Column("day", Date, primary_key=True),
    Column("kind", String(10), nullable=False),  # holiday | workday
)

projects = Table(
    "projects", metadata,
    Column("id", String(ID), primary_key=True),
    Column("order_no", String(64), nullable=False, unique=True),
    Column("business_no", String(64)),
    Column("product_id", String(ID), ForeignKey("service_products.id"), nullable=False),
    Column("template_id", String(ID), nullable=False),
    Column("template_version", Integer, nullable=False),
    Column("vendor_org_id", String(ID), nullable=False),
    Column("customer_org_id", String(ID), nullable=False),
    Column("provider_org_id", String(ID)),
    Column("status", String(12), nullable=False),
    Column("current_node_id", String(ID)),
    Column("current_node_name", String(100)),
    Column("current_node_type", String(30)),
    Column("current_side", String(10)),
    Column("current_role", String(40)),
    Column("current_operator_id", String(ID)),
    Column("overdue_side", String(10)),
    Column("overdue", Boolean, nullable=False),
    Column("spec", String(100)),
    Column("valid_until", Date),
    Column("claimed_by", String(ID)),
    Column("claim_department_id", String(ID)),
    Column("epoch", Integer, nullable=False),
    Column("role_operators", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("paused_at", UTCDateTime),
    Column("completed_at", UTCDateTime),
    Column("cancelled_at", UTCDateTime),
    Index("ix_projects_vendor_status", "vendor_org_id", "status", "created_at"),
    Index("ix_projects_provider_status", "provider_org_id", "status", "created_at"),
    Index("ix_projects_customer_status", "customer_org_id", "status", "created_at"),
    Index("ix_projects_product", "product_id"),
    Index("ix_projects_operator", "current_operator_id"),
    Index("ix_projects_status_created", "status", "created_at"),
    Index("ix_projects_completed_at", "completed_at"),
)

project_nodes = Table(
    "project_nodes", metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(ID), ForeignKey("projects.id"), nullable=False),
    Column("seq", Integer, nullable=False),  # order of entry within the project
    Column("step", Integer, nullable=False),
    Column("path", String(40), nullable=False),
    Column("name", String(100), nullable=False),
    Column("type", String(30), nullable=False),
    Column("side", String(10), nullable=False),
    Column("role", String(40)),
    Column("epoch", Integer, nullable=False),
    Column("entered_at", UTCDateTime, nullable=False),
    Column("deadline", UTCDateTime),
    Column("operator_id", String(ID)),
    Column("finished_at", UTCDateTime),
    Column("finished_by", String(ID)),
    Column("outcome", String(30)),
    Column("remark", String(500)),
    Column("overdue", Boolean, nullable=False),
    Column("timeout_fired_at", UTCDateTime),
    # the deadline while the timeout can still fire (node open, not fired, project
    # running), else NULL: the timeout job's index holds only armed timers
    Column("timer_at", UTCDateTime),
    Column("waiting_reason", String(200)),
    Column("waiting_since", UTCDateTime),
    Column("waiting_updated_at", UTCDateTime),
    Column("requirements", JSON),
    Column("decision", JSON),
    UniqueConstraint("project_id", "seq", name="uq_project_nodes_project_seq"),
    Index("ix_project_nodes_timer", "timer_at",
          postgresql_where=sql_text("timer_at IS NOT NULL"), sqlite_where=sql_text("timer_at IS NOT NULL")),
    Index("ix_project_nodes_finished_by", "finished_by"),
)

project_participants = Table(
    "project_participants", metadata,
    Column("project_id", String(ID), ForeignKey("projects.id"), primary_key=True),
    Column("user_id", String(ID), primary_key=True),
    Column("since", UTCDateTime, nullable=False),
    Index("ix_project_participants_user", "user_id"),
)

project_log = Table(
    "project_log", metadata,
    Column("project_id", String(ID), ForeignKey("projects.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("subject", String(100), nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("node_instance_id", String(ID)),
    Column("actor_id", String(ID)),
    Column("actor_name", String(100), nullable=False),
    Column("actor_role", String(40), nullable=False),
    Column("remark", Text),
)

project_posts = Table(
    "project_posts", metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(ID), ForeignKey("projects.id"), nullable=False),
    Column("kind", String(10), nullable=False),  # message | note
    Column("author_id", String(ID)),
    Column("author_name", String(100), nullable=False),
    Column("author_role", String(40), nullable=False),
    Column("text", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_project_posts_project", "project_id", "kind", "at"),
)

project_files = Table(
    "project_files", metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(ID), ForeignKey("projects.id"), nullable=False, index=True),
    Column("node_instance_id", String(ID), nullable=False),
    Column("name", String(255), nullable=False),
    Column("size", Integer, nullable=False),
    Column("uploader_id", String(ID)),
    Column("uploaded_at", UTCDateTime, nullable=False),
)

project_evaluations = Table(
    "project_evaluations", metadata,
    Column("project_id", String(ID), ForeignKey("projects.id"), primary_key=True),
    Column("rating", Integer, nullable=False),
    Column("comment", Text, nullable=False),
    Column("by_user_id", String(ID)),
    Column("at", UTCDateTime, nullable=False),
)

# --- wallet ------------------------------------------------------------------
# Owned by adapters/postgres/wallet_repos.py (docs/adr/0002-wallet-concurrency.md). The
# ledger (entries + postings) is append-only; ``wallets`` caches the figures of each
# wallet and is the row every money-moving transaction locks. The CHECK constraints are
# the last line of defence for the bounds the domain already keeps.
from sqlalchemy import Date  # noqa: E402 - kept with the section that needs it
from sqlalchemy import text as sql_text  # noqa: E402

wallets = Table(
    "wallets", metadata,
    # the wallet key (domain/wallet/purpose.py): the organisation id for the general wallet,
    # "<org_id>~external" for the external one, so no foreign key to organizations (the
    # services open a wallet only for an existing organisation of the right kind)
    Column("org_id", String(ID), primary_key=True),  # org ids are 30 characters: a key fits
    Column("cash", Money, nullable=False),
    Column("credit_limit", Money, nullable=False),
    Column("credit_used", Money, nullable=False),
    Column("held", Money, nullable=False),
    Column("held_traffic", Money, nullable=False, server_default="0"),  # the part traffic holds reserve
    Column("deposit_due", Money, nullable=False),
    Column("deposit_paid", Money, nullable=False),
    # sum of what is left on grants not yet lapsed (expired or not): 0 means "no grants to load"
    Column("coupons_normal", Money, nullable=False),
    Column("coupons_traffic", Money, nullable=False),
    Column("daily_budget", Money),
    Column("spent_day", Date),
    Column("spent_today", Money, nullable=False),
    Column("low_balance_threshold", Money),
    Column("low_balance_alerted", Boolean, nullable=False),
    Column("withholding_active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("cash >= 0", name="cash_not_negative"),
    CheckConstraint("held >= 0", name="held_not_negative"),
    CheckConstraint("held_traffic >= 0 AND held_traffic <= held", name="held_traffic_within_held"),
    CheckConstraint("credit_used >= 0 AND credit_used <= credit_limit", name="credit_within_limit"),
    CheckConstraint("deposit_paid >= 0", name="deposit_not_negative"),
    CheckConstraint("coupons_normal >= 0 AND coupons_traffic >= 0", name="coupons_not_negative"),
    Index("ix_wallets_threshold", "org_id",
          postgresql_where=sql_text("low_balance_threshold IS NOT NULL"),
          sqlite_where=sql_text("low_balance_threshold IS NOT NULL")),
    postgresql_with={"fillfactor": "70"},  # room on the page for HOT updates: every entry updates its row
)

wallet_coupon_grants = Table(
    "wallet_coupon_grants", metadata,
    Column("id", String(ID), primary_key=True),
    Column("org_id", String(ID), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("amount", Money, nullable=False),
    Column("remaining", Money, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("granted_by", String(ID), nullable=False),  # "platform" or the funding agency
    Column("created_at", UTCDateTime, nullable=False),
    Column("lapsed_at", UTCDateTime),
    CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_in_range"),
    Index("ix_wallet_coupon_grants_org", "org_id", "expires_at"),
    Index("ix_wallet_coupon_grants_live", "expires_at",
          postgresql_where=sql_text("remaining > 0"), sqlite_where=sql_text("remaining > 0")),
)

ledger_entries = Table(
    "ledger_entries", metadata,
    Column("id", String(ID), primary_key=True),
    Column("type", String(20), nullable=False),
    Column("org_id", String(ID), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("amount", Money, nullable=False),
    Column("reference", String(100)),
    Column("unique_key", String(200), unique=True),  # exactly-once: charge:<org>:<ref>, recharge:<id> ...
    Column("note", Text, nullable=False),
    Column("actor_id", String(ID)),
    Column("counterparty_org_id", String(ID)),
    Column("details", JSON, nullable=False),
)

ledger_postings = Table(
    "ledger_postings", metadata,
    Column("entry_id", String(ID), ForeignKey("ledger_entries.id"), primary_key=True),
    Column("n", Integer, primary_key=True),  # the posting's place in its entry
    Column("owner", String(ID), nullable=False),  # organisation id, "platform" or "external"
    Column("account", String(30), nullable=False),
    Column("grant_id", String(ID)),
    Column("amount", Money, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),  # the entry's, for balances at a moment
    CheckConstraint("amount <> 0", name="amount_not_zero"),
    # wallet balances at a past moment; counter-accounts (every charge's revenue) stay out of it
    Index("ix_ledger_postings_owner_created", "owner", "created_at",
          postgresql_where=sql_text("owner <> 'platform' AND owner <> 'external'"),
          sqlite_where=sql_text("owner <> 'platform' AND owner <> 'external'")),
)

wallet_lines = Table(
    # one statement row per (entry, wallet it touched), with the wallet's figures after it
    "wallet_lines", metadata,
    Column("org_id", String(ID), primary_key=True),
    Column("seq", Integer, primary_key=True),  # the wallet's version after the entry
    Column("entry_id", String(ID), ForeignKey("ledger_entries.id"), nullable=False),
    Column("type", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),  # the entry's
    Column("local_day", String(10), nullable=False),  # YYYY-MM-DD, platform time zone
    Column("amount", Money, nullable=False),
    Column("cash", Money, nullable=False),
    Column("normal_coupon", Money, nullable=False),
    Column("traffic_coupon", Money, nullable=False),
    Column("post_pay", Money, nullable=False),
    Column("after_cash", Money, nullable=False),
    Column("after_coupons_normal", Money, nullable=False),
    Column("after_coupons_traffic", Money, nullable=False),
    Column("after_credit_limit", Money, nullable=False),
    Column("after_credit_used", Money, nullable=False),
    Column("after_held", Money, nullable=False),
    Column("after_deposit_due", Money, nullable=False),
    Column("after_deposit_paid", Money, nullable=False),
    Column("reference", String(100)),
    Column("counterparty_org_id", String(ID)),
    Column("note", Text, nullable=False),
    Column("details", JSON, nullable=False),
    # few indexes: every charge writes a line. Date filters, consumption reports and the
    # line of an entry (same created_at) use the first; reference lookups the second.
    Index("ix_wallet_lines_org_created", "org_id", "created_at"),
    Index("ix_wallet_lines_org_reference", "org_id", "reference"),
)

wallet_holds = Table(
    "wallet_holds", metadata,
    Column("id", String(ID), primary_key=True),
    Column("org_id", String(ID), nullable=False),
    Column("reference", String(100), nullable=False),
    Column("amount", Money, nullable=False),
    Column("coupon_kind", String(10), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("status", String(10), nullable=False),  # active | captured | released | expired
    Column("captured", Money, nullable=False),
    Column("settled_at", UTCDateTime),
    Column("entry_id", String(ID)),
    Column("settle_entry_id", String(ID)),
    UniqueConstraint("org_id", "reference", name="uq_wallet_holds_org_reference"),
    Index("ix_wallet_holds_active_expiry", "expires_at",
          postgresql_where=sql_text("status = 'active'"), sqlite_where=sql_text("status = 'active'")),
    Index("ix_wallet_holds_org_created", "org_id", "created_at"),
    Index("ix_wallet_holds_active_org_expiry", "org_id", "expires_at",
          postgresql_where=sql_text("status = 'active'"), sqlite_where=sql_text("status = 'active'")),
)

wallet_recharges = Table(
    "wallet_recharges", metadata,
    Column("id", String(ID), primary_key=True),  # the out_trade_no gateways see
    Column("org_id", String(ID), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("amount", Money, nullable=False),
    Column("status", String(10), nullable=False),  # pending | paid | failed | revoked
    Column("created_at", UTCDateTime, nullable=False),
    Column("note", Text, nullable=False),
    Column("created_by", String(ID)),
    Column("payment_url", Text),
    Column("gateway_trade_no", String(64)),
    Column("paid_at", UTCDateTime),
    Column("entry_id", String(ID)),
    Column("credit_repaid", Money, nullable=False),
    Column("refunded", Money, nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("revoke_entry_id", String(ID)),
    Column("flag", String(500)),
    Column("failure", String(500), nullable=False),
    CheckConstraint("refunded >= 0 AND refunded <= amount", name="refunded_in_range"),
    Index("ix_wallet_recharges_org_created", "org_id", "created_at"),
    Index("ix_wallet_recharges_pending", "created_at",
          postgresql_where=sql_text("status = 'pending'"), sqlite_where=sql_text("status = 'pending'")),
)

wallet_withdrawals = Table(
    "wallet_withdrawals", metadata,
    Column("id", String(ID), primary_key=True),  # the refund number gateways see
    Column("org_id", String(ID), nullable=False),
    Column("recharge_id", String(ID), ForeignKey("wallet_recharges.id"), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("amount", Money, nullable=False),
    Column("status", String(10), nullable=False),  # pending | succeeded | failed
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(ID)),
    Column("reason", String(500), nullable=False),
    Column("settled_at", UTCDateTime),
    Column("detail", String(500), nullable=False),
    Column("entry_id", String(ID)),
    Column("settle_entry_id", String(ID)),
    Index("ix_wallet_withdrawals_org_created", "org_id", "created_at"),
    Index("ix_wallet_withdrawals_pending", "created_at",
          postgresql_where=sql_text("status = 'pending'"), sqlite_where=sql_text("status = 'pending'")),
)

withholding_agreements = Table(
    "withholding_agreements", metadata,
    Column("id", String(ID), primary_key=True),
    Column("org_id", String(ID), nullable=False, index=True),
    Column("account", String(100), nullable=False),
    Column("account_name", String(100), nullable=False),
    Column("status", String(10), nullable=False),  # pending | active | revoked
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(ID)),
    Column("confirmed_at", UTCDateTime),
    Column("confirmed_by", String(ID)),
    Column("revoked_at", UTCDateTime),
    Column("revoked_by", String(ID)),
)

# --- exports -----------------------------------------------------------------
# Owned by adapters/postgres/export_repos.py: the "task centre" of api.md (CSV/XLSX
# exports run as background jobs; any module registers an export kind).

export_jobs = Table(
    "export_jobs", metadata,
    Column("id", String(ID), primary_key=True),
    Column("org_id", String(ID), nullable=False),
    Column("requested_by", String(ID)),
    Column("kind", String(50), nullable=False),
    Column("format", String(10), nullable=False),  # csv | xlsx
    Column("filters", JSON, nullable=False),
    Column("status", String(10), nullable=False),  # pending | running | done | failed
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("file_name", String(200)),
    Column("row_count", Integer),
    Column("error", String(500)),
    Index("ix_export_jobs_org_created", "org_id", "created_at"),
    Index("ix_export_jobs_requester_created", "requested_by", "created_at"),  # the task centre's list
)
