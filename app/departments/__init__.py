"""Departments (operations, product, technology, ...)."""
