"""A scan: records from a connector through the engine into findings and the store,
with process metrics, field coverage, display names and the trace of one record.

May import store, engine, rules, connectors, support and model; never writeback, reports, app
or cli."""
