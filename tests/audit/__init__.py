"""`make audit`: maintained scanners against Council served on loopback with demo data.

Run as ``python -m tests.audit`` (see ``tests/audit/README.md``).
"""
