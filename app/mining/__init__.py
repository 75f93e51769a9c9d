"""Event-log import and process-mining analysis (pure, web-free)."""
