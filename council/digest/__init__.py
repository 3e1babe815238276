"""The optional email digest: one neutral message at a fixed hour, for advisors who ask for it."""
