"""ServiceNow Table API connector.

    connector = connector_from_env(None, load_field_map())   # SERVICENOW_* variables
    for record in connector.fetch(FetchRequest(Process.INCIDENT, scopes, fields)): ...

Modules: fieldmap (canonical fields <-> Table API fields), query (scopes -> encoded queries),
auth (basic, OAuth), client (HTTP + error mapping), paging (keyset
scans), tasks (write-back tables), connector (the Connector protocol), settings (environment and
profiles), doctor (instance checks), file and exports (Table API exports on disk), source (the
registry's openers: instance, sandbox, files).
"""

from sms_conformance.connectors.http.retry import RetryPolicy
from sms_conformance.connectors.servicenow.auth import BasicAuth, OAuth
from sms_conformance.connectors.servicenow.client import TableClient
from sms_conformance.connectors.servicenow.connector import ServiceNowConnector
from sms_conformance.connectors.servicenow.settings import connector_from_env

__all__ = [
    "BasicAuth",
    "OAuth",
    "RetryPolicy",
    "ServiceNowConnector",
    "TableClient",
    "connector_from_env",
]
