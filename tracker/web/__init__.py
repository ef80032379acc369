"""The review workspace: a local web app over the case file (``tracker serve``).

:func:`create_app` builds the FastAPI app; :mod:`tracker.web.security` holds the access
token, sessions and CSRF rules; :mod:`tracker.web.reconcile` the W3C reconciliation
service; :mod:`tracker.web.findings` the findings filters.
"""

from tracker.web.app import create_app

__all__ = ["create_app"]
