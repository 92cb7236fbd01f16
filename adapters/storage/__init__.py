"""File storage adapters: local disk (the embedded default)."""
