"""Wallet API end to end."""
