"""A local Jira Service Management site: the same logical records as the ServiceNow sandbox for
the same records and seed, as issues in project ITSM (site model: interfaces.md C).

    with JiraSandbox(records=2000, seed=7) as sb:
        requests.post(f"{sb.url}/rest/api/3/search/jql", auth=sb.auth,
                      json={"jql": "project = ITSM", "fields": ["summary"]})
"""

from __future__ import annotations

import gc
import secrets
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime

from sms_conformance.sandbox.dataset import DEFAULT_ANCHOR, Dataset, generate
from sms_conformance.sandbox.faults import FaultSpec
from sms_conformance.sandbox.jira.assets import Exposure
from sms_conformance.sandbox.jira.hostile import Hostile
from sms_conformance.sandbox.jira.server import JiraAuth, JiraServer, planted_keys
from sms_conformance.sandbox.jira.site import ADMIN_EMAIL, PROJECT_KEY
from sms_conformance.sandbox.jira.store import JiraStore
from sms_conformance.sandbox.logical import LogicalView, logical_view
from sms_conformance.sandbox.served import Served

__all__ = ["ADMIN_EMAIL", "PROJECT_KEY", "JiraSandbox", "serve_jira_forever"]


class JiraSandbox(Served[JiraServer]):
    """A JSM sandbox on 127.0.0.1 (free port by default), served from a daemon thread."""

    thread_name = "sms-jira-sandbox"

    def __init__(self, records: int = 2000, seed: int = 7, password: str | None = None,
                 faults: FaultSpec | str | None = None, defect_rate: float = 0.2,
                 port: int = 0, host: str = "127.0.0.1", time_zone: str = "UTC",
                 hidden_fields: Iterable[str] = (), absent_fields: Iterable[str] = (),
                 dataset: Dataset | None = None,
                 hostile: Hostile | str | None = None,
                 anchor: datetime = DEFAULT_ANCHOR, assets: Exposure = "on") -> None:
        """`time_zone`: the user's profile zone (JQL dates, /myself); `hidden_fields`: fields
        (custom names or ids) GET /field lists but issues never carry; `absent_fields`: fields
        the site does not have; `hostile`: misbehaviour modes (sandbox.jira.hostile);
        `anchor`: the moment the records are dated back from, as the ServiceNow sandbox's
        (`sandbox serve` passes the start of today); `assets`: whether the site exposes its
        CIs as Assets objects ("on"), has no Assets ("off") or refuses them ("forbidden")."""
        self.user = ADMIN_EMAIL
        self.password = password or secrets.token_urlsafe(16)
        super().__init__(host, port)
        self.dataset = dataset if dataset is not None else generate(
            records, seed, defect_rate=defect_rate, anchor=anchor)
        self.view: LogicalView = logical_view(self.dataset)
        self.store = JiraStore(self.view, time_zone, hidden_fields, absent_fields)
        self.store.assets.exposure = assets
        self.store.cloud_id = str(uuid.uuid5(uuid.NAMESPACE_URL,
                                             f"sms-sandbox-jira:{self.dataset.instance_key}"))
        # Many long-lived objects: keep the cyclic collector from walking them on every request.
        gc.collect()
        gc.freeze()
        self._faults = faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults)
        self._hostile = hostile if isinstance(hostile, Hostile) else Hostile.parse(hostile)
        self._hostile.group_names(self.view.groups)

    @property
    def identity(self) -> str:
        """The site's identity as a run keys it (identity.Identity.key): from the seed, the
        number of records and the defect rate."""
        return f"jira:{self.store.cloud_id}"

    @property
    def hostile(self) -> Hostile:
        return self.server.hostile if self.server is not None else self._hostile

    @hostile.setter
    def hostile(self, value: Hostile | str | None) -> None:
        """Modes take effect from the next request (group names only at construction)."""
        self._hostile = value if isinstance(value, Hostile) else Hostile.parse(value)
        if self.server is not None:
            self.server.hostile = self._hostile

    @property
    def auth(self) -> tuple[str, str]:
        """(email, API token) for HTTP basic auth."""
        return self.user, self.password

    @property
    def planted(self) -> dict[str, list[str]]:
        """Issue key -> planted rule ids."""
        return planted_keys(self.store)

    @property
    def faults(self) -> FaultSpec:
        return self.server.faults if self.server is not None else self._faults

    @faults.setter
    def faults(self, value: FaultSpec | str | None) -> None:
        self._faults = value if isinstance(value, FaultSpec) else FaultSpec.parse(value)
        if self.server is not None:
            self.server.faults = self._faults

    def make_server(self) -> JiraServer:
        return JiraServer((self.host, self.port), self.store,
                          JiraAuth(self.user, self.password), self._faults, self._hostile)


def serve_jira_forever(port: int = 8080, records: int = 2000, seed: int = 7,
                       password: str | None = None, faults: FaultSpec | str | None = None,
                       defect_rate: float = 0.2, host: str = "127.0.0.1",
                       on_ready: Callable[[JiraSandbox], None] | None = None,
                       anchor: datetime = DEFAULT_ANCHOR) -> None:
    """Run a Jira sandbox in the calling thread until interrupted (KeyboardInterrupt)."""
    sandbox = JiraSandbox(records=records, seed=seed, password=password, faults=faults,
                          defect_rate=defect_rate, port=port, host=host, anchor=anchor)
    server = sandbox.server = sandbox.make_server()
    if on_ready is not None:
        on_ready(sandbox)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sandbox.server = None
