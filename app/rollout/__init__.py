"""Rollout (phase 5): waves, training, tests, acknowledgements, readiness and launch."""
