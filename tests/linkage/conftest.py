"""Two real sites — a 12345 (the suite's main site) and a 110 — each with its own database, linked through the
real exchange channel (``civiclink.sites.LinkedPair``): envelopes are signed, posted through the receiving site's
real inbox code and applied by its handlers. Delivery is in-process and driven by the test (``sites.pump()``), so
that every step is deterministic; tests/linkage/test_exchange_processes.py runs the same over real HTTP sockets.

The 110 site itself (``police_app_state``, ``POLICE_USERS``) lives in tests/conftest.py: tests/e2e uses it too."""

# The ``sites`` fixture itself is in tests/conftest.py (tests/open311 uses it too).
