"""Connectors read records from a platform and write remediation tasks back to it."""
