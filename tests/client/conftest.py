"""tests/client: unit tests of the pure client core (plain functions; fakes in fakes.py)."""
