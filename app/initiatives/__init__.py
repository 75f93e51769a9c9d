"""Initiatives: one optimization project on one process, its team and its six phases."""

from app.initiatives.labels import register as _register_labels

_register_labels()
