"""The current-state survey (the method's table 1), research records and the as-is map."""
