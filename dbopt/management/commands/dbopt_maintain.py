from django.core.management.base import BaseCommand, CommandError

from dbopt import services
from perfmon.errors import ActionError


class Command(BaseCommand):
    help = "VACUUM / ANALYZE the tables past the thresholds (audited), on every monitored database or one."

    def add_arguments(self, parser):
        parser.add_argument("--database", help="a monitored database, settings alias or postgresql:// URL")
        parser.add_argument("--reason", default="manage.py dbopt_maintain")
        parser.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")

    def handle(self, *args, database, reason, dry_run, **options):
        try:
            done = services.run_maintenance(database=database, actor="manage.py", reason=reason, dry_run=dry_run)
        except ActionError as exc:
            raise CommandError(exc.message) from None
        for item in done:
            self.stdout.write(item if isinstance(item, str) else f"{item.database}: {item.message} ({item.result})")
        if not done:
            self.stdout.write("nothing needs maintenance")
