"""Write-back: findings become remediation tasks on the platform, once, closed when
the record conforms. The plan is pure (plan, records, corrective, policy, text, owner, guard,
examples); apply writes it through a connector's task port; run is the whole use case.

May import scan, store, engine, rules, connectors, support and model; never reports, app or
cli."""
