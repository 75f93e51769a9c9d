"""People: accounts, global roles, administration."""
