"""Dispatch HTTP API: product providers, employee capacity, queues, saturation, decisions."""
