from django.core.management.base import BaseCommand, CommandError

from cdn import services
from cdn.conf import cdn_settings
from perfmon.errors import ActionError


class Command(BaseCommand):
    help = ("Ingest CloudFront standard logs from a folder or s3://bucket/prefix into daily usage aggregates "
            "(each file once).")

    def add_arguments(self, parser):
        parser.add_argument("folder", nargs="?", help="a folder or s3://bucket/prefix (default: CDN LOG_FOLDER)")
        parser.add_argument("--reason", default="manage.py ingest_cdn_logs")

    def handle(self, *args, folder, reason, **options):
        folder = folder or cdn_settings.LOG_FOLDER
        if not folder:
            raise CommandError("give a folder, or set CDN_LOG_FOLDER")
        try:
            r = services.ingest_cdn_logs(folder=folder, actor="manage.py", reason=reason)
        except ActionError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"{r.files} files: {r.ingested} ingested ({r.lines} lines, {r.skipped} skipped), "
                          f"{r.already} already ingested")
