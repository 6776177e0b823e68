"""ServiceNow Table API connector."""

from sms_conformance.connectors.servicenow.auth import BasicAuth, OAuth
from sms_conformance.connectors.servicenow.client import TableClient
from sms_conformance.connectors.servicenow.connector import ServiceNowConnector
from sms_conformance.connectors.servicenow.retry import RetryPolicy
from sms_conformance.connectors.servicenow.settings import connector_from_env

__all__ = [
    "BasicAuth",
    "OAuth",
    "RetryPolicy",
    "ServiceNowConnector",
    "TableClient",
    "connector_from_env",
]
