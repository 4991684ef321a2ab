from django.core.management.base import BaseCommand

from perfmon.ops.alerting import evaluate_alert_rules
from perfmon.ops.notify import dispatch_notifications


class Command(BaseCommand):
    help = "Evaluate every alert rule once and queue notifications (what beat does every 15 s)."

    def handle(self, *args, **options):
        result = evaluate_alert_rules()
        if result.skipped:
            self.stdout.write("another evaluation is running; skipped")
            return
        queued = dispatch_notifications()
        self.stdout.write(f"{result.rules} rules: {len(result.pending)} new pending, {len(result.fired)} fired, "
                          f"{len(result.resolved)} resolved, {len(queued)} notifications queued")
        for rule, error in result.errors.items():
            self.stderr.write(f"rule {rule!r}: {error}")
