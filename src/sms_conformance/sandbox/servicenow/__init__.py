"""A local ServiceNow-compatible Table API: the demo target, live test peer and benchmark target.

    with Sandbox(records=2000, seed=7) as sb:
        requests.get(f"{sb.url}/api/now/table/incident", auth=("admin", sb.password))
"""

from __future__ import annotations

import gc
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime

from sms_conformance.sandbox.dataset import DEFAULT_ANCHOR, Dataset, generate
from sms_conformance.sandbox.faults import FaultSpec
from sms_conformance.sandbox.schema import instance_id
from sms_conformance.sandbox.served import Served
from sms_conformance.sandbox.servicenow.server import AuthConfig, SandboxServer
from sms_conformance.sandbox.servicenow.store import Store

DEFAULT_USER = "admin"
DEFAULT_CLIENT_ID = "sms-conformance-sandbox"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"

__all__ = ["DEFAULT_ANCHOR", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "Dataset",
           "FaultSpec", "Sandbox", "Store", "generate", "serve_forever"]


def _faults(faults: FaultSpec | str | None) -> FaultSpec:
    if isinstance(faults, FaultSpec):
        return faults
    return FaultSpec.parse(faults)


class Sandbox(Served[SandboxServer]):
    """A sandbox instance on 127.0.0.1 (free port by default), served from a daemon thread."""

    def __init__(self, records: int = 2000, seed: int = 7, password: str | None = None,
                 faults: FaultSpec | str | None = None, acl_hidden_rate: float = 0.0,
                 hidden_fields: Iterable[str] = (), defect_rate: float = 0.2,
                 client_id: str = DEFAULT_CLIENT_ID,
                 client_secret: str = DEFAULT_CLIENT_SECRET, token_ttl: int = 1799,
                 port: int = 0, host: str = "127.0.0.1", anchor: datetime = DEFAULT_ANCHOR,
                 dataset: Dataset | None = None, cache_dir: str | None = None) -> None:
        self.user = DEFAULT_USER
        self.password = password or secrets.token_urlsafe(16)
        self.client_id = client_id
        self.client_secret = client_secret
        super().__init__(host, port)
        self.dataset = dataset if dataset is not None else generate(
            records, seed, defect_rate=defect_rate, anchor=anchor, cache_dir=cache_dir)
        self.store = Store(self.dataset, acl_hidden_rate=acl_hidden_rate,
                           hidden_fields=hidden_fields, acl_seed=seed)
        # Millions of long-lived rows: keep the cyclic garbage collector from walking them again
        # and again while requests allocate (it slowed large sandboxes several-fold).
        gc.collect()
        gc.freeze()
        self._faults = _faults(faults)
        self._auth = AuthConfig(self.user, self.password, client_id, client_secret, token_ttl)

    @property
    def auth(self) -> tuple[str, str]:
        """(user, password) for HTTP basic auth."""
        return self.user, self.password

    @property
    def planted(self) -> dict[str, list[str]]:
        return self.dataset.planted

    @property
    def identity(self) -> str:
        """The instance's identity as a run keys it (identity.Identity.key): from the seed,
        the number of records and the defect rate."""
        return f"servicenow:{instance_id(self.dataset.instance_key)}"

    @property
    def faults(self) -> FaultSpec:
        return self.server.faults if self.server is not None else self._faults

    @faults.setter
    def faults(self, value: FaultSpec | str | None) -> None:
        self._faults = _faults(value)
        if self.server is not None:
            self.server.faults = self._faults

    def make_server(self) -> SandboxServer:
        return SandboxServer((self.host, self.port), self.store, self._auth, self._faults,
                             self.dataset.planted)


def serve_forever(port: int = 8080, records: int = 2000, seed: int = 7,
                  password: str | None = None, faults: FaultSpec | str | None = None,
                  defect_rate: float = 0.2, acl_hidden_rate: float = 0.0,
                  hidden_fields: Iterable[str] = (), host: str = "127.0.0.1",
                  client_id: str = DEFAULT_CLIENT_ID,
                  client_secret: str = DEFAULT_CLIENT_SECRET, cache_dir: str | None = None,
                  on_ready: Callable[[Sandbox], None] | None = None,
                  anchor: datetime = DEFAULT_ANCHOR) -> None:
    """Run a sandbox in the calling thread until interrupted (KeyboardInterrupt)."""
    sandbox = Sandbox(records=records, seed=seed, password=password, faults=faults,
                      acl_hidden_rate=acl_hidden_rate, hidden_fields=hidden_fields,
                      defect_rate=defect_rate, client_id=client_id,
                      client_secret=client_secret, port=port, host=host, cache_dir=cache_dir,
                      anchor=anchor)
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
