"""Collectors: read one source, return typed samples. No database writes here."""
from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from datetime import datetime

import psutil
from django.conf import settings
from django.utils import timezone


@dataclass(frozen=True)
class HostReading:
    host: str
    at: datetime
    cpu_percent: float
    load1: float
    load5: float
    load15: float
    memory_percent: float
    swap_percent: float
    disk_percent: float
    disk_read_bytes: int
    disk_write_bytes: int
    net_sent_bytes: int
    net_recv_bytes: int
    process_rss_bytes: int

    def as_dict(self) -> dict:
        return asdict(self)


def read_host(cpu_interval: float = 0.5) -> HostReading:
    """A psutil reading of this host. CPU % is measured over `cpu_interval` seconds,
    so the figure is a real average rather than the time since the last call."""
    disk_io = psutil.disk_io_counters()
    net_io = psutil.net_io_counters()
    load1, load5, load15 = os.getloadavg()
    disk_path = str(getattr(settings, "VAR_DIR", "/"))
    while not os.path.exists(disk_path):
        disk_path = os.path.dirname(disk_path) or "/"
    return HostReading(
        host=socket.gethostname(),
        at=timezone.now(),
        cpu_percent=psutil.cpu_percent(interval=cpu_interval),
        load1=load1, load5=load5, load15=load15,
        memory_percent=psutil.virtual_memory().percent,
        swap_percent=psutil.swap_memory().percent,
        disk_percent=psutil.disk_usage(disk_path).percent,
        disk_read_bytes=disk_io.read_bytes if disk_io else 0,
        disk_write_bytes=disk_io.write_bytes if disk_io else 0,
        net_sent_bytes=net_io.bytes_sent if net_io else 0,
        net_recv_bytes=net_io.bytes_recv if net_io else 0,
        process_rss_bytes=psutil.Process().memory_info().rss,
    )


@dataclass(frozen=True)
class GaugeReading:
    """One value of a named gauge with its labels, as a collector read it."""

    name: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


def read_redis(url: str) -> list[GaugeReading]:
    """Redis INFO: keyspace hit rate, memory, evictions, clients, ops/s. Raises when unreachable."""
    import redis

    info = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).info()
    hits, misses = int(info.get("keyspace_hits", 0)), int(info.get("keyspace_misses", 0))
    readings = [
        GaugeReading("redis.keyspace_hits", hits),
        GaugeReading("redis.keyspace_misses", misses),
        GaugeReading("redis.used_memory_bytes", float(info.get("used_memory", 0))),
        GaugeReading("redis.evicted_keys", float(info.get("evicted_keys", 0))),
        GaugeReading("redis.connected_clients", float(info.get("connected_clients", 0))),
        GaugeReading("redis.ops_per_sec", float(info.get("instantaneous_ops_per_sec", 0))),
    ]
    if info.get("maxmemory"):
        readings.append(GaugeReading("redis.memory_percent", 100.0 * info["used_memory"] / info["maxmemory"]))
    if hits + misses:
        readings.append(GaugeReading("redis.hit_rate", hits / (hits + misses)))
    return readings


def celery_queues() -> list[str]:
    names = {getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")}
    for queue in getattr(settings, "CELERY_TASK_QUEUES", None) or ():
        names.add(getattr(queue, "name", queue))
    names.update(getattr(settings, "PERFMON", {}).get("CELERY_QUEUES", ()))
    return sorted(names)


def read_celery(app=None, *, queues: list[str] | None = None, ping_timeout: float = 1.0) -> list[GaugeReading]:
    """Queue depth per queue (through kombu, so any broker) and the number of workers that answer a ping."""
    if app is None:
        from config.celery import app
    readings = []
    with app.connection_for_read() as conn:
        for queue in queues or celery_queues():
            channel = conn.channel()
            try:
                depth = channel.queue_declare(queue=queue, passive=True).message_count
            except Exception:  # a queue nobody declared yet holds nothing
                depth = 0
            finally:
                try:
                    channel.close()
                except Exception:
                    pass
            readings.append(GaugeReading("celery.queue_depth", float(depth), (("queue", queue),)))
    replies = app.control.ping(timeout=ping_timeout) or []
    readings.append(GaugeReading("celery.workers", float(len(replies))))
    return readings


def read_db_connections() -> list[GaugeReading]:
    """Connections to the database server: in use by state, and the share of max_connections."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(state, 'other'), count(*) FROM pg_stat_activity "
                       "WHERE backend_type = 'client backend' GROUP BY 1")
        by_state = dict(cursor.fetchall())
        cursor.execute("SELECT current_setting('max_connections')::int")
        limit = cursor.fetchone()[0]
    total = sum(by_state.values())
    readings = [GaugeReading("db.connections", float(n), (("state", state),)) for state, n in sorted(by_state.items())]
    readings.append(GaugeReading("db.connections_total", float(total)))
    readings.append(GaugeReading("db.connections_percent", 100.0 * total / limit if limit else 0.0))
    return readings
