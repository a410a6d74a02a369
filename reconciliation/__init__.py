"""Reconciliation of vendor reports against what the gateway issued (filled in below)."""
