"""Mergeable histograms and SQL fingerprints (pure functions)."""
import random

from perfmon.fingerprint import fingerprint, normalize
from perfmon.histogram import BOUNDS_MS, N_BUCKETS, bucket_index, merge, percentile


def _hist(values):
    histogram = [0] * N_BUCKETS
    for value in values:
        histogram[bucket_index(value)] += 1
    return histogram


def test_buckets_span_under_a_millisecond_to_a_minute():
    assert BOUNDS_MS[0] < 1 and BOUNDS_MS[-1] == 60000
    assert bucket_index(0.1) == 0 and bucket_index(0.5) == 0 and bucket_index(0.51) == 1
    assert bucket_index(120000) == N_BUCKETS - 1
    assert all(b / a <= 2.0 for a, b in zip(BOUNDS_MS[1:], BOUNDS_MS[2:]))


def test_merged_histograms_give_the_percentiles_of_the_union_within_bucket_resolution():
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 1.2) for _ in range(20000)]
    parts = [values[i::5] for i in range(5)]  # five "processes"
    merged = merge(_hist(p) for p in parts)
    assert merged == _hist(values)
    ordered = sorted(values)
    for q in (50, 90, 95, 99):
        exact = ordered[int(len(ordered) * q / 100) - 1]
        estimate = percentile(merged, q)
        i = bucket_index(exact)
        lower = BOUNDS_MS[i - 1] if i else 0
        assert lower <= estimate <= BOUNDS_MS[i], (q, exact, estimate)


def test_percentile_edge_cases():
    assert percentile([0] * N_BUCKETS, 50) is None
    only_slow = _hist([90000.0])
    assert 60000 < percentile(only_slow, 99, max_ms=90000.0) <= 90000.0
    assert percentile(_hist([3.0, 3.0]), 100, max_ms=3.0) == 3.0


def test_normalize_removes_literals_and_collapses_lists():
    a = normalize("SELECT * FROM t WHERE id IN (1, 2, 3) AND name = 'bob' AND x > 2.5")
    b = normalize("SELECT  *  FROM t WHERE id IN (7) AND name = 'it''s' AND x > 10")
    assert "bob" not in a and "2.5" not in a and "'" not in a
    assert normalize('SELECT "t"."id" FROM "t" WHERE "t"."id" = %s LIMIT 21') == \
        'SELECT "t"."id" FROM "t" WHERE "t"."id" = ? LIMIT ?'
    assert fingerprint(a) == fingerprint(normalize("SELECT * FROM t WHERE id IN (4, 5, 6) AND name = 'x' AND x > 1"))
    assert b.startswith("SELECT * FROM t WHERE id IN (?)")
    assert normalize("INSERT INTO t (a, b) VALUES (%s, %s), (%s, %s), (%s, %s)") == "INSERT INTO t (a, b) VALUES (...)"
    assert len(normalize("SELECT " + "x, " * 100000)) <= 2000
