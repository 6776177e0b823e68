"""Jira Service Management connector (Cloud REST v3, Data Center REST v2).

    connector = connector_from_env(site, load_jira_field_map())   # JIRA_* variables
    for record in connector.fetch(FetchRequest(Process.INCIDENT, scopes, fields)): ...
    tasks = JiraTasks(connector, project="ITSM")                  # the write-back port

Modules: auth (Cloud basic, DC bearer), client (the Jira client on the shared transport), responses (error
shapes), jql (quoting, scopes, date windows), search (token and offset paging), adf (rich
text), values (JSON shapes -> canonical values), fieldmap (the Jira field map, bound to a
site's custom field ids), connector (the Connector protocol), tasks (the TaskPort),
task_settings (write_back.jira), settings (environment), doctor (site checks), source (the
registry's opener of `--source jira`).
"""

from sms_conformance.connectors.jira.connector import JiraConnector
from sms_conformance.connectors.jira.fieldmap import JiraFieldMap, load_jira_field_map
from sms_conformance.connectors.jira.settings import connector_from_env
from sms_conformance.connectors.jira.tasks import JiraTasks

__all__ = ["JiraConnector", "JiraFieldMap", "JiraTasks", "connector_from_env",
           "load_jira_field_map"]
