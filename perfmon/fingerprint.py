"""Normalized SQL: literals and parameter values removed, so one query shape has one
fingerprint whatever it was called with. Parameter values are never stored."""
from __future__ import annotations

import hashlib
import re

_PATTERNS = [
    (re.compile(r"'(?:[^']|'')*'"), "?"),                     # string literals
    (re.compile(r"\$\d+|%\(\w+\)s|%s"), "?"),                 # placeholders
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "?"),              # hex
    (re.compile(r"(?<![\w.\"])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?\b", re.I), "?"),  # numbers
    (re.compile(r"(?:\(\?(?:\s*,\s*\?)*\)\s*,\s*)+\(\?(?:\s*,\s*\?)*\)"), "(...)"),  # multi-row VALUES
    (re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)"), "(?+)"),      # IN (?, ?, ?) lists of any length
    (re.compile(r"\s+"), " "),
]
MAX_SQL = 2000


def normalize(sql: str) -> str:
    text = sql[:20000]
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text.strip()[:MAX_SQL]


def fingerprint(normalized_sql: str) -> str:
    return hashlib.blake2b(normalized_sql.encode(), digest_size=8).hexdigest()
