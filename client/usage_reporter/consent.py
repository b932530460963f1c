"""The visitor's choice about usage collection, remembered in storage.

Separate from the deployment's telemetry opt-in (which governs sending snapshots upstream):
this is one browser saying "do not record me". Global Privacy Control, when the page is
configured to honour it, counts as opting out until the visitor explicitly opts in.
Builtins only.
"""

OPTED_OUT = "out"
OPTED_IN = "in"


class Consent:
    """``opted_out`` is what the reporter checks before recording or sending anything.

    The choice is kept in memory too, so it holds for this page even when storage is
    blocked or full.
    """

    def __init__(self, storage, key, global_privacy_control=False, on_error=None):
        self._storage = storage
        self._key = key
        self._gpc = bool(global_privacy_control)
        self._on_error = on_error
        self._choice = None
        try:
            stored = storage.get(key)
        except Exception as exc:
            stored = None
            self._report("read", exc)
        if stored in (OPTED_OUT, OPTED_IN):
            self._choice = stored

    def _report(self, action, exc):
        if self._on_error is not None:
            self._on_error("consent-" + action, "could not " + action + " the opt-out choice in storage: "
                           + str(exc))

    @property
    def opted_out(self):
        if self._choice == OPTED_OUT:
            return True
        return self._gpc and self._choice != OPTED_IN

    @property
    def choice(self):
        """"out", "in" or None (never chosen)."""
        return self._choice

    def _save(self, choice):
        self._choice = choice
        try:
            self._storage.set(self._key, choice)
        except Exception as exc:
            self._report("save", exc)

    def opt_out(self):
        self._save(OPTED_OUT)

    def opt_in(self):
        self._save(OPTED_IN)
