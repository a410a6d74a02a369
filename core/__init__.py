"""The platform under every domain: settings, the database (engines, sessions, the declarative
base), prepared statements, money formatting, the audit trail, the process's runtime, keys
derived from the master key, the utility's calendar and the CLI helpers. It imports nothing of
ours but `sts`."""
