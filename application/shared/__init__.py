"""Ports and plumbing every module's application layer shares."""
