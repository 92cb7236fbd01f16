"""Wallet domain: a double-entry ledger and the wallet aggregate (spec wallet.md)."""
