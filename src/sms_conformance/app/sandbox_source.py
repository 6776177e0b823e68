"""`--source sandbox`: the ServiceNow sandbox started for the run and read through the
ServiceNow connector. It lives here, above both: a connector never imports a sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from sms_conformance.connectors.capabilities import Reads
from sms_conformance.connectors.registry import SourceOptions
from sms_conformance.connectors.servicenow.source import sandbox_connector, servicenow_map
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.schema import PlatformMap
from sms_conformance.sandbox.dataset import day_anchor
from sms_conformance.sandbox.servicenow import Sandbox


@contextmanager
def open_sandbox(options: SourceOptions, platform_map: PlatformMap) -> Iterator[Reads]:
    """`--source sandbox`: a seeded sandbox on a free loopback port, for the run."""
    anchor = day_anchor(options.as_of)
    sandbox = Sandbox(records=options.records, seed=options.seed, anchor=anchor, port=options.port)
    try:
        sandbox.start()
    except OSError as exc:
        raise ConfigError(f"sandbox: cannot listen on 127.0.0.1:{options.port}: "
                          f"{exc.strerror}") from None
    with sandbox:
        if not options.quiet:
            click.echo(f"sandbox: {options.records} incidents (seed {options.seed}), dated up to "
                       f"{anchor:%Y-%m-%d}, at {sandbox.url}", err=True)
        yield sandbox_connector(sandbox.url, sandbox.password, servicenow_map(platform_map))
