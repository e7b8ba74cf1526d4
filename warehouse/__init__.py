"""Warehouse-level operations that are neither landing nor dbt: the published snapshot."""
