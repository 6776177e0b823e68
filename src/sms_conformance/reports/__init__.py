"""Report renderers: each reads a finished scan from the history store (table, json, csv,
sarif, junit, oscal, the evidence pack, trends, metrics, diffs).

May import the store, the engine, rules, support and model; never the scan's running parts,
write-back (its results come from the store), the application or the CLI."""
