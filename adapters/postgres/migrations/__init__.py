"""Alembic environment and revisions (a package, so setuptools ships them)."""
