from django.core.management.base import BaseCommand, CommandError

from perfmon.services import prune_metrics


class Command(BaseCommand):
    help = "Delete metric samples and rollup rows older than their retention."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="keep this many days of host samples (default: the setting)")
        parser.add_argument("--minute-days", type=int, help="keep this many days of minute rollups")
        parser.add_argument("--hour-days", type=int, help="keep this many days of hour rollups")
        parser.add_argument("--reason", default="manage.py prune_metrics")

    def handle(self, *args, days=None, minute_days=None, hour_days=None, reason="", **options):
        for name, value in (("--days", days), ("--minute-days", minute_days), ("--hour-days", hour_days)):
            if value is not None and value < 0:
                raise CommandError(f"{name} must be 0 or more")
        result = prune_metrics(actor="manage.py", reason=reason, host_sample_days=days, minute_days=minute_days,
                               hour_days=hour_days)
        self.stdout.write(f"deleted {result.host_samples_deleted} host samples, {result.minute_rows_deleted} minute "
                          f"rows, {result.hour_rows_deleted} hour rows, {result.samples_deleted} collector samples")
