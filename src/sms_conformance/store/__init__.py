"""The history store (SQLite) and what is drawn from it: pruning, the one-writer run
lock, sampling, provenance, the list of scans and which scan `--scan` means.

May import engine, rules, the connector contract, support and model; never scan, writeback,
reports, app or cli."""
