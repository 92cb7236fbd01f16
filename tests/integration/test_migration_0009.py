"""Migration 0009 turns the sandbox gateway's SQLite amounts into integer cents, so the
Money column type reads back exactly what was stored before."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text

from adapters.postgres import tables as t
from adapters.postgres.migrate import upgrade


def test_sandbox_amounts_stored_as_numbers_read_back_exactly_after_the_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0008")
    engine = create_engine(url)
    with engine.begin() as conn:  # as 0008's NUMERIC column held it: a float
        conn.execute(text("INSERT INTO sandbox_payments (id, out_trade_no, amount, subject, notify_url, status, "
                          "refunded, created_at) VALUES ('sbx_1', 'rch_1', 1234.56, 's', 'http://x', 'paid', "
                          "0.1, '2026-12-01 00:00:00')"))
        conn.execute(text("INSERT INTO sandbox_refunds (refund_no, payment_id, amount, reason, status, created_at) "
                          "VALUES ('r1', 'sbx_1', 0.1, 'r', 'succeeded', '2026-12-01 00:00:00')"))
    upgrade(url)
    with engine.begin() as conn:
        payment = conn.execute(select(t.sandbox_payments)).one()
        refund = conn.execute(select(t.sandbox_refunds)).one()
        assert (payment.amount, payment.refunded, refund.amount) == (Decimal("1234.56"), Decimal("0.10"),
                                                                     Decimal("0.10"))
        conn.execute(insert(t.sandbox_payments).values(  # and new rows go in as cents
            id="sbx_2", out_trade_no="rch_2", amount=Decimal("99999999999999.99"), subject="s",
            notify_url="http://x", status="pending", refunded=Decimal("0"),
            created_at=payment.created_at))
        assert conn.execute(select(t.sandbox_payments.c.amount).where(t.sandbox_payments.c.id == "sbx_2")
                            ).scalar_one() == Decimal("99999999999999.99")
    engine.dispose()
