"""Wallet domain module."""
