"""Helpers shared by the test suites: talking to the gateway as a bank would (soap), factories
for vendors and floats (vendor_accounts) and reconciliation runs (reconciliation), the STS
vectors and hypothesis strategies (sts_vectors, sts_strategies) and the PostgreSQL wire relay
that counts round trips (sql_capture). Plain modules: no tests live here."""
