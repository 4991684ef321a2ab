from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cdn import services
from perfmon.errors import ActionError


class Command(BaseCommand):
    help = ("Upload and optimize every file of a folder (default STATIC_ROOT, after collectstatic), "
            "or re-optimize assets by id. Audited.")

    def add_arguments(self, parser):
        parser.add_argument("folder", nargs="?", help="folder to process (default: STATIC_ROOT)")
        parser.add_argument("--asset", type=int, action="append", default=[], help="re-optimize this asset id")
        parser.add_argument("--reason", default="manage.py optimize_assets")
        parser.add_argument("--limit", type=int, help="process at most N files")
        parser.add_argument("--dry-run", action="store_true", help="list what would be processed, change nothing")

    def handle(self, *args, folder, asset, reason, limit, dry_run, **options):
        try:
            if asset:
                for asset_id in asset:
                    if dry_run:
                        self.stdout.write(f"dry run: would optimize {services.get_asset(asset_id)}")
                        continue
                    r = services.optimize_asset(asset_id=asset_id, actor="manage.py", reason=reason)
                    self.stdout.write(f"asset {asset_id}: {r.variants} variants, {r.bytes_original:,} -> "
                                      f"{r.bytes_best:,} bytes{' (unchanged)' if not r.changed else ''}"
                                      f"{'; ' + r.note if r.note else ''}")
                return
            root = Path(folder or settings.STATIC_ROOT)
            r = services.optimize_assets(folder=root, actor="manage.py", reason=reason, dry_run=dry_run, limit=limit)
        except ActionError as exc:
            raise CommandError(exc.message) from None
        prefix = "dry run: " if dry_run else ""
        self.stdout.write(f"{prefix}{r.files} files: {r.uploaded} new, {r.deduplicated} already stored, "
                          f"{r.optimized} optimized, {len(r.failed)} refused")
        for name, message in sorted(r.failed.items()):
            self.stderr.write(f"  {name}: {message}")
