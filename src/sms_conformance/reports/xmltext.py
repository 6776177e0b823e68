"""Text safe to put in XML 1.0: record values may carry characters XML cannot hold."""

from __future__ import annotations

import re

# Characters outside XML 1.0's Char production (control characters, surrogates, U+FFFE/F).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)
