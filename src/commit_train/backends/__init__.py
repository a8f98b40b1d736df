"""Adapters that implement the ports: GitHub (the ledger of record) and the local journal."""
