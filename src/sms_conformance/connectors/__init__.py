"""The connector contract and the platforms behind it: the only way the rest of the tool
reaches a platform.

The contract: base (Connector, TaskPort, the request and task types), capabilities (what a
connector may offer: writes tasks, doctor, trace), parallel (key-range streams), http/ (the
transport every platform's client shares) and registry (which platforms and sources exist,
named by import path). servicenow/ and jira/ implement it; neither imports the other.

The contract imports rules, support and model only; a platform may also use the engine's
coverage; no connector imports the scan, the store, write-back, reports, the application, the
CLI or a sandbox."""
