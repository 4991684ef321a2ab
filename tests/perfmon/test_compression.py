"""gzip and brotli with a minimum size and a content-type allowlist; savings are counted."""
import gzip

import brotli
import pytest
from django.utils import timezone

from perfmon.compression import accepted
from perfmon.schema import BYTES_SAVED, HTTP

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.perfmon.urls")]


def test_brotli_preferred_for_json_and_gzip_otherwise(client):
    plain = client.get("/t/big")
    assert not plain.has_header("Content-Encoding")
    br = client.get("/t/big", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert br["Content-Encoding"] == "br" and "Accept-Encoding" in br["Vary"]
    assert brotli.decompress(br.content) == plain.content
    assert int(br["Content-Length"]) == len(br.content) < len(plain.content)
    gz = client.get("/t/big", HTTP_ACCEPT_ENCODING="gzip")
    assert gz["Content-Encoding"] == "gzip" and gzip.decompress(gz.content) == plain.content


def test_refused_codings_small_bodies_and_html_with_brotli(client):
    assert client.get("/t/big", HTTP_ACCEPT_ENCODING="br;q=0, gzip;q=0").get("Content-Encoding") is None
    assert client.get("/t/big", HTTP_ACCEPT_ENCODING="br;q=0, gzip").get("Content-Encoding") == "gzip"
    assert client.get("/t/text/100", HTTP_ACCEPT_ENCODING="gzip").get("Content-Encoding") is None
    assert client.get("/t/text/5000", HTTP_ACCEPT_ENCODING="gzip")["Content-Encoding"] == "gzip"
    # HTML never gets brotli (no BREACH padding there); gzip with Django's random padding
    html = client.get("/admin/login/", HTTP_ACCEPT_ENCODING="br, gzip")
    assert html["Content-Encoding"] == "gzip"


def test_accept_encoding_parsing_tolerates_junk():
    assert accepted("gzip;q=0.5, br;q=oops, , *;q=0") == {"gzip": 0.5, "br": 0.0, "*": 0.0}
    assert accepted("x" * 10000) == {"x" * 10000: 1.0}


def test_bytes_saved_are_a_metric(redis_buffer, recorder, client):
    plain = len(client.get("/t/big").content)
    compressed = len(client.get("/t/big", HTTP_ACCEPT_ENCODING="br").content)
    assert recorder.flush()
    batch = redis_buffer.pending(since_minute=int(timezone.now().timestamp()) // 60 * 60 - 60)
    saved = sum(v[BYTES_SAVED] for k, v in batch.rows.items() if k[0] == HTTP and k[2] == "/t/big")
    assert saved == plain - compressed
