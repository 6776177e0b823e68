"""Local sandboxes of the platforms on 127.0.0.1: the demo target, live test peer and benchmark
target. `servicenow/` serves a Table API, `jira/` a Jira Service Management site, both from the
one logical data set the shared modules here make (dataset, schema, logical, pools), with the
fault injection (faults), the serving thread (served) and the request counters (stats) they
share.

May import model and support only: the tool's own parts never import a sandbox, except the
CLI and the application, which start one."""
