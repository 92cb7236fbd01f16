"""Job queue adapters: RQ on Redis (production) and in-process (embedded default, tests)."""
