"""procopt: process optimization and standardization service."""

__version__ = "0.1.0"
