"""The back-office web console: one more door on the same domains (see README, Console)."""
