"""Identity HTTP API."""
