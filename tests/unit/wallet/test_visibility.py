"""Who sees which money figures (application/wallet/visibility.py)."""
from __future__ import annotations

from application.shared.access import Caller
from application.wallet.visibility import shown_details, shown_refusal
from domain.wallet.errors import DailyBudgetExceeded, InsufficientFunds

OWNER = Caller(org_id="org_c", org_kinds=frozenset({"customer"}), roles=("customer_admin",), user_id="usr_a")
BUYER = Caller(org_id="org_c", org_kinds=frozenset({"customer"}), roles=("customer_user",), user_id="usr_b")
PLATFORM = Caller(org_id="org_p", org_kinds=frozenset({"platform"}), roles=("platform_admin",), user_id="usr_p")


def test_a_refusal_tells_a_buyer_why_but_not_how_much() -> None:
    refused = InsufficientFunds("available 10.00 < 25.00", details={"available": "10.00", "amount": "25.00",
                                                                     "spendable": "3.00"})
    assert shown_refusal(OWNER, refused) == ("available 10.00 < 25.00", refused.details)
    assert shown_refusal(BUYER, refused) == ("the wallet cannot pay this amount", {"amount": "25.00"})
    over = DailyBudgetExceeded("spent 90.00 of 100.00", details={"daily_budget": "100.00", "spent_today": "90.00"})
    assert shown_refusal(BUYER, over) == ("this would exceed the wallet's daily budget", {})


def test_payee_amounts_are_the_platforms_to_see() -> None:
    details = {"payees": "org_s:8.00", "coupon_kind": "normal"}
    assert shown_details(PLATFORM, details) == details
    assert shown_details(OWNER, details) == {"coupon_kind": "normal"}
