"""Wallet endpoints."""
