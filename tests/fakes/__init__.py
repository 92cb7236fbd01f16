"""Fakes and test bindings."""
