import json

from django.core.management.base import BaseCommand, CommandError

from perfmon.ops.reports import PERIODS, build_report, render_csv


class Command(BaseCommand):
    help = "Print the performance report for a period as JSON or CSV (the same as GET /api/performance/reports)."

    def add_arguments(self, parser):
        parser.add_argument("--period", default="day", help=f"one of {', '.join(PERIODS)}")
        parser.add_argument("--format", dest="fmt", default="json", help="json or csv")
        parser.add_argument("--output", help="write to this file instead of standard output")

    def handle(self, *args, period, fmt, output=None, **options):
        if period not in PERIODS:
            raise CommandError(f"--period must be one of {', '.join(PERIODS)}")
        if fmt not in ("json", "csv"):
            raise CommandError("--format must be json or csv")
        report = build_report(period=period)
        text = render_csv(report) if fmt == "csv" else json.dumps(report, indent=2, default=str)
        if output:
            with open(output, "w", newline="") as handle:
                handle.write(text)
            self.stdout.write(f"report written to {output}")
        else:
            self.stdout.write(text)
