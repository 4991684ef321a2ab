"""CloudFront standard access logs -> daily aggregates per path, edge location and
cache result (ingest_cdn_logs). A file is recognised by its content hash, so ingesting
a folder again adds nothing; logs that arrive hours late are simply added to their day."""
from __future__ import annotations

import gzip
import hashlib
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import IntegrityError, connection, transaction

from perfmon.audit import audited

from .errors import LogError
from .models import Asset, LogFile, UsageDaily, Variant

# The 33 fields of a CloudFront standard log line, in order.
FIELDS = ("date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
          "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header "
          "cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type "
          "cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte "
          "x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end").split()
_I = {name: i for i, name in enumerate(FIELDS)}
RESULT_TYPES = {"Hit", "RefreshHit", "Miss", "LimitExceeded", "CapacityExceeded", "Error", "Redirect"}


@dataclass
class Parsed:
    counts: Counter = field(default_factory=Counter)  # (date, path, edge, result) -> hits
    bytes: Counter = field(default_factory=Counter)
    lines: int = 0
    skipped: int = 0


def parse_lines(lines: list[str]) -> Parsed:
    """Sum the lines of one log file. A line that is not 33 tab-separated fields, or has
    an unknown result type, is counted as skipped rather than guessed at."""
    out = Parsed()
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.rstrip("\r\n").split("\t")
        result = cols[_I["x-edge-result-type"]] if len(cols) == len(FIELDS) else ""
        if result not in RESULT_TYPES or not cols[_I["sc-bytes"]].isdigit():
            out.skipped += 1
            continue
        path = urllib.parse.unquote(cols[_I["cs-uri-stem"]])[:500]
        key = (cols[_I["date"]], path, cols[_I["x-edge-location"]][:32], result)
        out.counts[key] += 1
        out.bytes[key] += int(cols[_I["sc-bytes"]])
        out.lines += 1
    return out


@dataclass(frozen=True)
class IngestResult:
    files: int
    ingested: int
    already: int
    lines: int
    skipped: int


def _decode(name: str, raw: bytes) -> list[str]:
    try:
        text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        return text.decode("utf-8", errors="replace").splitlines()
    except (OSError, EOFError) as exc:
        raise LogError(f"{name}: not a readable (gzip) log file: {exc}") from exc


def s3_client():
    """The S3 client for log prefixes (boto3 is imported only here)."""
    import boto3

    return boto3.client("s3")


def _sources(folder: str | Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(name, read) for every log file in a local folder or under s3://bucket/prefix."""
    text = str(folder)
    if text.startswith("s3://"):
        bucket, _, prefix = text[5:].partition("/")
        if not bucket:
            raise LogError(f"{text!r} names no bucket: use s3://bucket/prefix/.")
        client = s3_client()
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    key = item["Key"]
                    yield f"s3://{bucket}/{key}", (lambda k=key: client.get_object(Bucket=bucket, Key=k)["Body"].read())
        except (BotoCoreError, ClientError) as exc:
            raise LogError(f"Cannot read logs from {text}: {exc}") from exc
        return
    root = Path(folder)
    if not root.is_dir():
        raise LogError(f"{root} is not a folder of CDN logs.")
    for path in sorted(p for p in root.iterdir() if p.is_file()):
        yield path.name, path.read_bytes


def ingest_cdn_logs(*, folder: str | Path, actor: Any, reason: str = "") -> IngestResult:
    """Ingest every log file in `folder` (a local folder or s3://bucket/prefix; plain or
    .gz) not ingested before. A local file is known by its content hash; an S3 object by
    its key, so it is not downloaded again. Each file is one transaction: its LogFile
    row and its aggregates commit together, so a crash midway or a second run never
    counts a line twice. Raises LogError."""
    totals: Counter = Counter()
    files = 0
    with audited("cdn.ingest_cdn_logs", actor=actor, reason=reason, target=str(folder)[:200]) as audit:
        for name, read in _sources(folder):
            files += 1
            if name.startswith("s3://") and LogFile.objects.filter(name=name[:500]).exists():
                totals["already"] += 1
                continue
            raw = read()
            totals.update(_ingest_one(name, raw, _decode(name, raw)))
        (audit.set_after if totals["ingested"] else audit.mark_noop)(files=files, **totals)
    return IngestResult(files, totals["ingested"], totals["already"], totals["lines"], totals["skipped"])


def _ingest_one(name: str, raw: bytes, lines: list[str]) -> Counter:
    digest = hashlib.sha256(raw).hexdigest()
    if LogFile.objects.filter(sha256=digest).exists():
        return Counter(already=1)
    parsed = parse_lines(lines)
    try:
        with transaction.atomic():
            LogFile.objects.create(name=name[:500], sha256=digest, lines=parsed.lines, skipped=parsed.skipped)
            _upsert(parsed)
    except IntegrityError:  # another process ingested the same file first
        return Counter(already=1)
    return Counter(ingested=1, lines=parsed.lines, skipped=parsed.skipped)


def _upsert(parsed: Parsed) -> None:
    keys = {path.lstrip("/") for (_, path, _, _) in parsed.counts}
    variants = dict(Variant.objects.filter(storage_key__in=keys).values_list("storage_key", "id"))
    variant_assets = dict(Variant.objects.filter(storage_key__in=keys).values_list("storage_key", "asset_id"))
    originals = dict(Asset.objects.filter(original_key__in=keys).values_list("original_key", "id"))
    table = UsageDaily._meta.db_table
    # Sum into existing rows in one statement per row (ON CONFLICT works on PostgreSQL and SQLite).
    sql = (f"INSERT INTO {table} (date, path, asset_id, variant_id, edge_location, region, result_type, hits, bytes) "
           f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
           f"ON CONFLICT (date, path, edge_location, result_type) DO UPDATE SET "
           f"hits = {table}.hits + excluded.hits, bytes = {table}.bytes + excluded.bytes")
    rows = []
    for (day, path, edge, result), hits in parsed.counts.items():
        key = path.lstrip("/")
        asset_id = variant_assets.get(key) or originals.get(key)
        rows.append((day, path, asset_id, variants.get(key), edge, edge[:3].upper(), result, hits,
                     parsed.bytes[(day, path, edge, result)]))
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
