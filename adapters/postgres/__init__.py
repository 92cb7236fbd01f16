"""SQLAlchemy 2 persistence: runs on PostgreSQL (production) and SQLite (embedded)."""
