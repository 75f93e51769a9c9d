"""Cross-cutting pieces: configuration, database, errors, security, pages."""
