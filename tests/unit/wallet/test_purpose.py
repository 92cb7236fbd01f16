"""Wallet keys: the organisation id names the general wallet, "<org_id>~external" the
external one (domain/wallet/purpose.py)."""
from __future__ import annotations

import pytest

from domain.wallet.errors import NotForExternalWallet, WalletNotFound
from domain.wallet.purpose import general_only, is_external, may_hold, org_of, split_key, wallet_key


def test_keys_round_trip() -> None:
    assert wallet_key("org_1") == "org_1" and split_key("org_1") == ("org_1", "general")
    assert wallet_key("org_1", "external") == "org_1~external"
    assert split_key("org_1~external") == ("org_1", "external")
    assert org_of("org_1~external") == org_of("org_1") == "org_1"
    assert is_external("org_1~external") and not is_external("org_1")


@pytest.mark.parametrize("key", ["org_1~savings", "org_1~", "~external", "org_1~external~external"])
def test_anything_else_names_no_wallet(key: str) -> None:
    with pytest.raises(WalletNotFound):
        split_key(key)


def test_unknown_purpose_has_no_key_and_general_only_guards() -> None:
    with pytest.raises(WalletNotFound):
        wallet_key("org_1", "savings")
    general_only("org_1", "coupons")
    with pytest.raises(NotForExternalWallet) as caught:
        general_only("org_1~external", "coupons")
    assert caught.value.code == "not_for_external_wallet"


def test_who_may_hold_which_wallet() -> None:
    assert may_hold("general", {"customer"}) and may_hold("general", set())
    assert may_hold("external", {"agency"}) and may_hold("external", ["merchant", "customer"])
    assert not may_hold("external", {"customer", "supplier"}) and not may_hold("savings", {"agency"})
