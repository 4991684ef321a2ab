from django.core.management.base import BaseCommand, CommandError

from perfmon.errors import ActionError
from perfmon.ops.optimize import passes_for
from perfmon.ops.services import OPTIMIZATION_KINDS, optimize


class Command(BaseCommand):
    help = "Run the optimization passes (cache, database, cdn or all)."

    def add_arguments(self, parser):
        parser.add_argument("--type", dest="kind", default="all", help="cache, database, cdn or all")
        parser.add_argument("--reason", default="manage.py optimize")
        parser.add_argument("--wait", action="store_true", help="run here and now instead of queueing the job")
        parser.add_argument("--dry-run", action="store_true", help="list the passes that would run")

    def handle(self, *args, kind, reason, wait, dry_run, **options):
        if kind not in OPTIMIZATION_KINDS:
            raise CommandError(f"--type must be one of {', '.join(OPTIMIZATION_KINDS)}")
        if dry_run:
            for name in passes_for(kind):
                self.stdout.write(name)
            return
        try:
            run = optimize(kind=kind, actor="manage.py", reason=reason, run_now=wait)
        except ActionError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"optimization run {run.pk} ({kind}): {run.status}")
        for name, state in run.progress.items():
            self.stdout.write(f"  {name}: {state} {run.result.get(name, '')}")
