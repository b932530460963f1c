"""Unit tests of the pure client core (``client/usage_reporter``), runnable without pytest."""
