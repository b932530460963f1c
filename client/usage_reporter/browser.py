"""The runtime shim: ``import usage_reporter.browser`` picks the adapter of the runtime.

Brython has a ``browser`` module, Pyodide a ``js`` module (PyScript's ``ffi.py`` chooses
the same way). Both adapters expose ``boot(options=None, **kwargs)``; usage.js's boot
scripts call it, and a page that runs Python itself may call it in library mode::

    import usage_reporter.browser
    usage_reporter.browser.boot({"app_id": "shop"})
"""

try:
    import browser as _brython_runtime  # noqa: F401  (only Brython has it)
except ImportError:
    from ._pyodide import boot, listen_clicks  # Pyodide (raises ImportError under CPython)

    RUNTIME = "pyodide"
else:
    from ._brython import boot, listen_clicks

    RUNTIME = "brython"

__all__ = ["RUNTIME", "boot", "listen_clicks"]
