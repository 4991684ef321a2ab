import json
from dataclasses import asdict

from django.core.management.base import BaseCommand, CommandError

from dbopt import selectors, services
from perfmon.errors import ActionError


class Command(BaseCommand):
    help = ("Plan analysis of a statement from pg_stat_statements (by the queryid dbopt_report and the API "
            "show): EXPLAIN with a real sample's values where one was seen; --analyze runs it (plain SELECTs "
            "only, read-only transaction, statement timeout).")

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default")
        parser.add_argument("--queryid", required=True)
        parser.add_argument("--analyze", action="store_true")
        parser.add_argument("--json", action="store_true", help="the whole report, plan included, as JSON")

    def handle(self, *args, database, queryid, analyze, json: bool = False, **options):
        try:
            db = services.get_database(database)
            message = selectors.support_message(db)
            if message:
                raise CommandError(message)
            report = services.explain_query(database=db.name, queryid=queryid, analyze=analyze, actor="manage.py")
        except ActionError as exc:
            raise CommandError(exc.message) from None
        if json:
            self.stdout.write(_dumps(asdict(report)))
            return
        self.stdout.write(f"{report.statement}\n  plan from {report.plan_source}; total cost {report.total_cost}"
                          + (f"; executed in {report.execution_ms:.1f} ms" if report.execution_ms is not None else ""))
        for flag in report.flags or [{"flag": "nothing flagged"}]:
            self.stdout.write("  - " + ", ".join(f"{k}={v}" for k, v in flag.items()))


def _dumps(value) -> str:
    return json.dumps(value, indent=2, default=str)
