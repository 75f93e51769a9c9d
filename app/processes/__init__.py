"""The process registry: the business processes being optimized (code like YH-LC01)."""
