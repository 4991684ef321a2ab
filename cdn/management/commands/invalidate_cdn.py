from django.core.management.base import BaseCommand, CommandError

from cdn import services
from cdn.backends import get_backend
from cdn.invalidation import clean_paths, plan_batches
from perfmon.errors import ActionError


class Command(BaseCommand):
    help = "Invalidate paths on the CDN (batched within the CDN's limits, audited, idempotent by --key)."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="paths as the CDN sees them, e.g. /cdn/ab/... or /static/*")
        parser.add_argument("--reason", required=True, help="why (recorded in the audit trail)")
        parser.add_argument("--key", help="idempotency key (default: derived from the paths and the minute)")
        parser.add_argument("--backend", default="default")
        parser.add_argument("--no-wait", action="store_true", help="return once submitted")
        parser.add_argument("--dry-run", action="store_true", help="show the batches, send nothing")

    def handle(self, *args, paths, reason, key, backend, no_wait, dry_run, **options):
        try:
            if dry_run:
                batches = plan_batches(clean_paths(paths), get_backend(backend))
                for number, batch in enumerate(batches):
                    self.stdout.write(f"dry run: batch {number}: {len(batch)} paths: {', '.join(batch[:5])}"
                                      f"{' ...' if len(batch) > 5 else ''}")
                return
            r = services.invalidate_cdn(paths=paths, actor="manage.py", reason=reason, idempotency_key=key,
                                        backend=backend, wait=not no_wait)
        except ActionError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"invalidation {r.invalidation_id}: {r.status}, {r.batches} batch(es), "
                          f"ids {', '.join(r.external_ids)}{'' if r.created else ' (existing key)'}")
