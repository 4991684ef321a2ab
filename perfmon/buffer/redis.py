"""The Redis buffer: shared by every process and host, written with one atomic
script per minute per flush.

Keys (under the prefix, default "pm"):
  {p}:m:{minute}          hash: "kind␟route␟method␟status␟index" -> number
  {p}:minutes             set of minutes that have a hash
  {p}:c:{minute}:{token}  a minute's hash claimed by a drain (renamed, atomically)
  {p}:claims              set of claim keys not yet finished
  {p}:total               lifetime sums (http and task rows) and "dropped", for /metrics
  {p}:sql                 fingerprint -> normalized SQL

Exactly once: a drain renames a minute's hash to a claim key (so later flushes
start a fresh hash, taken by the next drain), applies it to the database in a
transaction that also records the claim's token, then deletes the claim. A drain
that died in between leaves the claim; the next one applies it unless the token
is already recorded.
"""
from __future__ import annotations

import json
import secrets
import time

import redis

from ..recorder import Batch
from ..schema import MAX_INDEX, SQL
from .base import AlreadyApplied, Apply, MetricsBuffer

SEP = "\x1f"
TTL_SECONDS = 2 * 24 * 3600

_WRITE = """
local data = cjson.decode(ARGV[3])
for i = 1, #data.s, 2 do
  redis.call('hincrbyfloat', KEYS[1], data.s[i], data.s[i+1])
  redis.call('hincrbyfloat', KEYS[2], data.s[i], data.s[i+1])
end
for i = 1, #data.q, 2 do
  redis.call('hincrbyfloat', KEYS[1], data.q[i], data.q[i+1])
end
for i = 1, #data.m, 2 do
  local current = tonumber(redis.call('hget', KEYS[1], data.m[i]) or '0')
  if tonumber(data.m[i+1]) > current then redis.call('hset', KEYS[1], data.m[i], data.m[i+1]) end
end
for i = 1, #data.x, 2 do
  redis.call('hsetnx', KEYS[4], data.x[i], data.x[i+1])
end
if data.d > 0 then redis.call('hincrby', KEYS[2], 'dropped', data.d) end
redis.call('sadd', KEYS[3], ARGV[1])
redis.call('expire', KEYS[1], ARGV[2])
return 1
"""
_CLAIM = """
redis.call('srem', KEYS[3], ARGV[1])
if redis.call('exists', KEYS[1]) == 1 then
  redis.call('rename', KEYS[1], KEYS[2])
  redis.call('sadd', KEYS[4], KEYS[2])
  return 1
end
return 0
"""


def _number(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


class RedisBuffer(MetricsBuffer):
    name = "redis"

    def __init__(self, url: str, *, prefix: str = "pm", timeout: float = 0.5):
        self.url = url
        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                           decode_responses=True)
        self._write = self.client.register_script(_WRITE)
        self._claim = self.client.register_script(_CLAIM)

    def _key(self, *parts: object) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    # ----- write ---------------------------------------------------------------------
    def write(self, batch: Batch) -> None:
        parts = batch.split_by_minute() or {int(time.time()) // 60 * 60: Batch(dropped=batch.dropped)}
        pipe = self.client.pipeline(transaction=False)
        for minute, part in parts.items():
            payload = self._payload(part)
            self._write(keys=[self._key("m", minute), self._key("total"), self._key("minutes"), self._key("sql")],
                        args=[minute, TTL_SECONDS, payload], client=pipe)
        pipe.execute()

    @staticmethod
    def _payload(part: Batch) -> str:
        sums, query_sums, maxes = [], [], []
        for (kind, _minute, route, method, status), values in part.rows.items():
            stem = SEP.join((kind, route, method, str(status), ""))
            target = query_sums if kind == SQL else sums
            for i, value in enumerate(values):
                if value:
                    (maxes if i == MAX_INDEX else target).extend((stem + str(i), _number(value)))
        examples = [item for pair in part.examples.items() for item in pair]
        return json.dumps({"s": sums, "q": query_sums, "m": maxes, "x": examples, "d": int(part.dropped)})

    # ----- read ----------------------------------------------------------------------
    @staticmethod
    def _parse(fields: dict[str, str], minute: int, into: Batch) -> None:
        from ..schema import width

        for name, value in fields.items():
            parts = name.split(SEP)
            if len(parts) != 5:
                continue
            kind, route, method, status, index = parts
            key = (kind, minute, route, method, int(status))
            row = into.rows.get(key)
            if row is None:
                row = into.rows[key] = [0.0] * width(kind)
            row[int(index)] = float(value)

    def _examples(self, batch: Batch) -> None:
        fps = sorted({key[3] for key in batch.rows if key[0] == SQL})
        if fps:
            for fp, sql in zip(fps, self.client.hmget(self._key("sql"), fps)):
                if sql:
                    batch.examples[fp] = sql

    def pending(self, *, since_minute: int) -> Batch:
        now = int(time.time()) // 60 * 60
        # nothing older than the keys' TTL can be there
        minutes = list(range(max(since_minute // 60 * 60, now - TTL_SECONDS), now + 60, 60))
        pipe = self.client.pipeline(transaction=False)
        for minute in minutes:
            pipe.hgetall(self._key("m", minute))
        batch = Batch()
        for minute, fields in zip(minutes, pipe.execute()):
            self._parse(fields, minute, batch)
        self._examples(batch)
        return batch

    def totals(self) -> Batch:
        batch = Batch()
        fields = self.client.hgetall(self._key("total"))
        batch.dropped = int(float(fields.pop("dropped", 0)))
        self._parse(fields, 0, batch)
        return batch

    def dropped_total(self) -> int:
        return int(float(self.client.hget(self._key("total"), "dropped") or 0))

    def ping(self) -> None:
        self.client.ping()

    # ----- drain ---------------------------------------------------------------------
    def drain(self, apply: Apply, *, before_minute: int) -> int:
        applied = 0
        for claim in sorted(self.client.smembers(self._key("claims"))):
            applied += self._apply_claim(claim, apply)
        for member in sorted(self.client.smembers(self._key("minutes")), key=int):
            minute = int(member)
            if minute >= before_minute:
                continue
            claim = self._key("c", minute, secrets.token_hex(12))
            if self._claim(keys=[self._key("m", minute), claim, self._key("minutes"), self._key("claims")],
                           args=[member]):
                applied += self._apply_claim(claim, apply)
        return applied

    def _apply_claim(self, claim: str, apply: Apply) -> int:
        minute, token = claim.rsplit(":", 2)[-2:]
        batch = Batch()
        self._parse(self.client.hgetall(claim), int(minute), batch)
        self._examples(batch)
        try:
            apply(batch, token)
            done = 1
        except AlreadyApplied:
            done = 0
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(claim)
        pipe.srem(self._key("claims"), claim)
        pipe.execute()
        return done

    def clear(self) -> None:
        """Delete every key under this prefix (tests, and `prune_metrics --reset-buffer`)."""
        keys = list(self.client.scan_iter(match=f"{self.prefix}:*", count=1000))
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start:start + 500])
