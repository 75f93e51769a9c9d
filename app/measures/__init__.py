"""Optimization plan (table 2): countermeasures that address an initiative's problems."""

from app.measures.labels import register as _register_labels

_register_labels()
