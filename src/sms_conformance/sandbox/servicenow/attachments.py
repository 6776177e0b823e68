"""The sandbox's Attachment API store: files attached to records, kept in memory.

Shapes follow ServiceNow's Attachment API documentation (POST /api/now/attachment/file answers
201 with the attachment's metadata in "result"; GET /api/now/attachment lists metadata and
filters by sysparm_query; GET /api/now/attachment/{sys_id}/file returns the bytes). Not checked
against a captured response: shared/reference/servicenow has none.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Attachment:
    sys_id: str
    table_name: str
    table_sys_id: str
    file_name: str
    content_type: str
    content: bytes
    created: str

    def meta(self, base: str) -> dict[str, Any]:
        return {
            "sys_id": self.sys_id, "table_name": self.table_name,
            "table_sys_id": self.table_sys_id, "file_name": self.file_name,
            "content_type": self.content_type, "size_bytes": str(len(self.content)),
            "sys_created_on": self.created,
            "download_link": f"{base}/api/now/attachment/{self.sys_id}/file",
        }


class Attachments:
    """Thread-safe: the sandbox serves requests concurrently."""

    def __init__(self) -> None:
        self._items: dict[str, Attachment] = {}
        self._lock = threading.Lock()

    def add(self, table: str, record: str, file_name: str, content_type: str,
            content: bytes) -> Attachment:
        item = Attachment(secrets.token_hex(16), table, record, file_name, content_type,
                          content, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()))
        with self._lock:
            self._items[item.sys_id] = item
        return item

    def get(self, sys_id: str) -> Attachment | None:
        with self._lock:
            return self._items.get(sys_id)

    def query(self, encoded: str) -> list[Attachment]:
        """Attachments matching every `field=value` term of an encoded query (ANDed by ^)."""
        terms = [t.partition("=") for t in encoded.split("^") if t]
        with self._lock:
            items = list(self._items.values())
        return [a for a in items
                if all(getattr(a, name, None) == value for name, _, value in terms)]
