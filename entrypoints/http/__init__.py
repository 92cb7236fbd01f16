"""Flask HTTP API (``create_app``)."""
