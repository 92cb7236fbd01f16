"""Workflow HTTP API."""
