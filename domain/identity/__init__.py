"""Identity: organisations, users, departments, roles, credentials."""
