"""Peak memory of the Jira read path on a search page whose rich text is 2,000,000 text nodes.

    python bench/adf_memory.py [--nodes 2000000] [--max-response-mb 64]
                               [--max-response-objects 1000000]

Starts the JSM sandbox (in a process of its own) with 40 incidents, then reads every incident
through the Jira connector's fetch (the scan's read path: transport, size cap, JSON decoding,
ADF flattening) in a child process, twice: once on the plain sandbox (the baseline), once with
the hostile mode `wide-adf` (the first issue of every record search carries a description of
one paragraph of --nodes text nodes, 27 bytes each: 56 MB at 2,000,000). Prints each child's
peak RSS (resource.getrusage ru_maxrss) and what the read made of the description.

--max-response-objects 3000000 lets the body through to the decoder, as before the cap was set.

    python bench/adf_memory.py --child URL TOKEN MAX_MB MAX_OBJECTS   # one read (internal)
"""

from __future__ import annotations

import argparse
import json
import resource
import secrets
import subprocess
import sys
from datetime import datetime, timezone

from sms_conformance.connectors.base import FetchRequest
from sms_conformance.connectors.jira.fieldmap import load_jira_field_map
from sms_conformance.connectors.jira.settings import connector_from_env
from sms_conformance.model.errors import SourceError
from sms_conformance.model.records import Process, Unknown
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.jira import hostile as modes
from sms_conformance.support.limits import MAX_OBJECTS, Limits

EMAIL = "admin@example.com"
NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def child(url: str, token: str, max_mb: str, max_objects: str) -> dict[str, object]:
    env = {"JIRA_EMAIL": EMAIL, "JIRA_API_TOKEN": token, "JIRA_DEPLOYMENT": "cloud"}
    conn = connector_from_env(url, load_jira_field_map(), env,
                              Limits(max_response_mb=float(max_mb),
                                     max_response_objects=int(max_objects)))
    records = unreadable = 0
    reason, error = "", ""
    try:
        for record in conn.fetch(FetchRequest(Process.INCIDENT, ({},),
                                              frozenset({"description", "short_description"}))):
            records += 1
            value = record.fields.get("description")
            if isinstance(value, Unknown) and value.unreadable:
                unreadable += 1
                reason = value.reason
    except SourceError as exc:
        error = str(exc)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"records": records, "unreadable": unreadable, "reason": reason, "error": error,
            "peak_rss_mb": round(peak_kb / 1024)}


def serve(token: str, mode: str, nodes: int) -> None:
    """The sandbox, in a process of its own: the readers' peak RSS is then theirs alone (a
    child's ru_maxrss counts what it was forked from)."""
    modes.WIDE = nodes
    with JiraSandbox(records=40, seed=7, password=token, hostile=mode or None) as box:
        print(box.url, flush=True)
        sys.stdin.read()  # until the parent closes it


def measure(token: str, mode: str, nodes: int, max_mb: float,
            max_objects: int) -> dict[str, object]:
    server = subprocess.Popen([sys.executable, __file__, "--serve", token, mode, str(nodes)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        out = subprocess.run([sys.executable, __file__, "--child", url, token, str(max_mb),
                              str(max_objects)], check=True, capture_output=True, text=True)
    finally:
        server.communicate(timeout=60)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=modes.WIDE)
    parser.add_argument("--max-response-mb", type=float, default=64.0)
    parser.add_argument("--max-response-objects", type=int, default=MAX_OBJECTS)
    parser.add_argument("--child", nargs=4, metavar=("URL", "TOKEN", "MAX_MB", "MAX_OBJECTS"))
    parser.add_argument("--serve", nargs=3, metavar=("TOKEN", "MODE", "NODES"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return
    token = secrets.token_hex(8)
    size = (27 * args.nodes + 64) / 1e6
    caps = (args.max_response_mb, args.max_response_objects)
    base = measure(token, "", args.nodes, *caps)
    wide = measure(token, "wide-adf", args.nodes, *caps)
    print(f"baseline read (40 incidents): peak RSS {base['peak_rss_mb']} MB, "
          f"{base['records']} records")
    print(f"with a description of {args.nodes:,} text nodes ({size:.0f} MB body), "
          f"source.max_response_mb {args.max_response_mb:g}, max_response_objects "
          f"{args.max_response_objects:,}: peak RSS {wide['peak_rss_mb']} MB, "
          f"{wide['records']} records, {wide['unreadable']} unreadable"
          + (f" ({wide['reason']})" if wide["reason"] else "")
          + (f"; the read failed: {wide['error']}" if wide["error"] else ""))


if __name__ == "__main__":
    main()
