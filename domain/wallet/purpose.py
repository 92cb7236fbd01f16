"""Wallet purposes (spec wallet.md "Model"): every organisation has a ``general`` wallet;
agencies and merchants (an agency's principals) also have an ``external`` one for
off-platform placement (seed 002: 通用钱包 and 外投钱包), funded, refunded, allocated and
spent on its own.

A wallet is named by its **key**: the organisation id for the general wallet, and
``<org_id>~external`` for the external one. The key is what the ledger's postings, the
statement lines and the wallet row carry; access is decided on the organisation.
"""
from __future__ import annotations

from domain.wallet.errors import NotForExternalWallet, WalletNotFound

GENERAL, EXTERNAL = "general", "external"
PURPOSES = (GENERAL, EXTERNAL)
SEPARATOR = "~"
EXTERNAL_KINDS = frozenset({"agency", "merchant"})  # who may hold an external wallet


def wallet_key(org_id: str, purpose: str = GENERAL) -> str:
    if purpose == GENERAL:
        return org_id
    if purpose == EXTERNAL:
        return f"{org_id}{SEPARATOR}{EXTERNAL}"
    raise WalletNotFound(f"no {purpose} wallet")


def split_key(key: str) -> tuple[str, str]:
    """(organisation id, purpose) of a wallet key; an unknown purpose names no wallet."""
    org_id, sep, purpose = key.partition(SEPARATOR)
    if not sep:
        return key, GENERAL
    if purpose != EXTERNAL or not org_id:
        raise WalletNotFound("no such wallet")
    return org_id, EXTERNAL


def may_hold(purpose: str, org_kinds: frozenset[str] | set[str] | list[str]) -> bool:
    """May an organisation of these kinds hold a wallet of this purpose?"""
    return purpose == GENERAL or (purpose == EXTERNAL and bool(EXTERNAL_KINDS & set(org_kinds)))


def org_of(key: str) -> str:
    return split_key(key)[0]


def is_external(key: str) -> bool:
    return split_key(key)[1] == EXTERNAL


def general_only(key: str, what: str) -> None:
    """Refuse ``what`` on an external wallet (409 ``not_for_external_wallet``)."""
    if is_external(key):
        raise NotForExternalWallet(f"an external wallet has no {what}; use the general wallet")
