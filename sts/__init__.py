"""STS token library (placeholder)."""
