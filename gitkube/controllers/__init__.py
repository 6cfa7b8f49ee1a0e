"""Workload controllers: each a pure `sync(snapshot) -> Changes`; the agent writes the changes."""
