"""tests/client: unit tests of the pure client core (plain functions; fakes in fakes.py)."""


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes seconds (boots a real runtime such as Pyodide under Node)")
