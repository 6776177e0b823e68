"""ServiceNow connector tests: client, auth, query, connector, doctor, settings, cassettes, sandbox."""
