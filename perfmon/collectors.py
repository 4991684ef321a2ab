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
