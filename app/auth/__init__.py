"""Authentication: login, JWT access tokens, CSRF, service tokens, login rate limiting."""
