from django.core.management.base import BaseCommand, CommandError

from perfmon.services import SOURCES, collect_metrics, rollup_metrics


class Command(BaseCommand):
    help = ("Collect one round of metrics now (host, Redis INFO, Celery queues and workers, database "
            "connections) and print it; with --rollup, also move closed minutes from the buffer into rollups.")

    def add_arguments(self, parser):
        parser.add_argument("--source", action="append", choices=SOURCES,
                            help="collect only this source (repeatable; default: all)")
        parser.add_argument("--rollup", action="store_true", help="also run the minute and hour rollups")

    def handle(self, *args, source=None, rollup=False, **options):
        try:
            result = collect_metrics(sources=tuple(source or SOURCES))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        sample = result.host_sample
        if sample is not None:
            self.stdout.write(f"host {sample.host}: cpu {sample.cpu_percent:.1f}% "
                              f"memory {sample.memory_percent:.1f}% swap {sample.swap_percent:.1f}% "
                              f"disk {sample.disk_percent:.1f}% load {sample.load1:.2f}")
        for reading in result.samples:
            labels = ",".join(f"{k}={v}" for k, v in reading.labels)
            self.stdout.write(f"{reading.name}{{{labels}}} {reading.value:g}")
        for name, error in result.errors.items():
            self.stderr.write(f"{name}: not collected: {error}")
        if rollup:
            done = rollup_metrics()
            self.stdout.write(f"rollup: {done.parts_applied} buffer parts applied, "
                              f"{done.hours_recomputed} hours recomputed")
