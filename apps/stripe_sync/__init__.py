"""Keeping the ledger true to Stripe: webhook processing and reconciliation."""
