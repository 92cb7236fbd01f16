"""Password hashing (argon2) and bearer tokens (JWT)."""
