"""Local sandboxes of the platforms on 127.0.0.1: the demo target, live test peer and benchmark
target. `servicenow/` serves a Table API, `jira/` a Jira Service Management site, both from the
one logical data set the shared modules here make (dataset, schema, logical, pools), with the
fault injection (faults), the serving thread (served) and the request counters (stats) they
share.

May import model, support and the platforms' field maps and value parsers (the logical data
set is the ServiceNow field map's reading of the generated rows); never the engine, the scan,
the store, write-back, reports, the application or the CLI. Only the CLI and the application
start a sandbox."""
