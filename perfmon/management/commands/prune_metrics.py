from django.core.management.base import BaseCommand, CommandError

from perfmon.services import prune_metrics


class Command(BaseCommand):
    help = "Delete metric samples older than their retention."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="keep this many days of host samples (default: the setting)")
        parser.add_argument("--reason", default="manage.py prune_metrics")

    def handle(self, *args, days=None, reason="", **options):
        if days is not None and days < 0:
            raise CommandError("--days must be 0 or more")
        result = prune_metrics(actor="manage.py", reason=reason, host_sample_days=days)
        self.stdout.write(f"deleted {result.host_samples_deleted} host samples")
