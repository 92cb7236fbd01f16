"""Wallet module: double-entry ledger, recharge, holds, charges, coupons, credit, deposits."""
