"""The Jira sources of the registry: `--source jira --site URL` (or $JIRA_SITE, or a profile),
credentials from JIRA_EMAIL + JIRA_API_TOKEN (Cloud) or JIRA_PAT (Data Center); `--source
file:DIR --platform jira`, exports on disk."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sms_conformance.connectors.capabilities import Reads
from sms_conformance.connectors.jira.fieldmap import JiraFieldMap
from sms_conformance.connectors.jira.file import JiraFileConnector
from sms_conformance.connectors.jira.settings import connector_from_env
from sms_conformance.connectors.parallel import side_by_side
from sms_conformance.connectors.registry import SourceOptions
from sms_conformance.model.schema import PlatformMap


@contextmanager
def open_site(options: SourceOptions, platform_map: PlatformMap) -> Iterator[Reads]:
    """`--source jira`: the site of --site (SourceOptions.instance), else the profile's, else
    $JIRA_SITE.

    With `preflight`, checked before anything is read or written: the site answers as Jira and
    takes the credentials (exit 3), the field map's custom fields and projects exist there and
    its `jql:` restrictions are valid JQL (exit 2).
    """
    connector = connector_from_env(options.instance, _jira_map(platform_map),
                                   limits=options.limits, profile=options.profile)
    if options.preflight:
        connector.who()  # first: it tells the API version the others are asked in
        side_by_side([connector.bindings, connector.issue_types], connector.reads_at_once())
        connector.check_restrictions()
    yield connector


@contextmanager
def open_exports(options: SourceOptions, platform_map: PlatformMap) -> Iterator[Reads]:
    """`--source file:DIR --platform jira`: saved REST search pages or Jira's CSV export."""
    yield JiraFileConnector(Path(options.argument), _jira_map(platform_map))


def _jira_map(platform_map: PlatformMap) -> JiraFieldMap:
    if not isinstance(platform_map, JiraFieldMap):  # the registry pairs each source with its map
        raise TypeError(f"a Jira source needs the Jira field map, not {platform_map!r}")
    return platform_map
