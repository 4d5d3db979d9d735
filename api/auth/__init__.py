"""Authentication (passwords, tokens, refresh tokens) and authorization (roles)."""
