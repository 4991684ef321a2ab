from django.core.management.base import BaseCommand, CommandError

from dbopt import selectors, services
from perfmon.errors import ActionError


class Command(BaseCommand):
    help = "Collect, judge and print a readable summary of each monitored database (or one)."

    def add_arguments(self, parser):
        parser.add_argument("--database", help="a monitored database, settings alias or postgresql:// URL")
        parser.add_argument("--no-collect", action="store_true", help="report the stored snapshots only")
        parser.add_argument("--no-advice", action="store_true", help="skip the (slower) missing-index advice")
        parser.add_argument("--per-kind", type=int, default=10, help="findings shown per kind (largest first)")

    def handle(self, *args, database, no_collect, no_advice, per_kind, **options):
        self.per_kind = per_kind
        try:
            dbs = [services.get_database(database)] if database else services.ensure_databases()
            for db in dbs:
                message = selectors.support_message(db)
                if message:
                    self.stdout.write(f"== {db.name}: {message}")
                    continue
                if not no_collect:
                    collected = services.collect_database(database=db)
                    if collected.status != "up":
                        self.stdout.write(f"== {db.name}: {collected.status}: {collected.detail}")
                        continue
                    if db.pk is not None:
                        services.refresh_findings(database=db, with_advice=not no_advice)
                self._print(selectors.database_status(db, findings=500))
        except ActionError as exc:
            raise CommandError(exc.message) from None

    def _print(self, s: dict) -> None:
        w = self.stdout.write
        w(f"== {s['name']} ({s['target']}): {s['status']} {s['message']}")
        w(f"   PostgreSQL {s['server_version']}; size {(s['size_bytes'] or 0) / 1e6:.1f} MB; "
          f"pg_stat_statements {'yes' if s['features']['pg_stat_statements'] else 'no'}; "
          f"hypopg {'yes' if s['features']['hypopg'] else 'no'}")
        if s["cache"]:
            w(f"   cache hit ratio: tables {s['cache']['table_hit_ratio']}, indexes {s['cache']['index_hit_ratio']}")
        if s["connections"]:
            w(f"   connections: {s['connections'].get('by_state')} of max {s['connections'].get('max_connections')}")
        w("   top queries by total time:")
        for q in s["top_queries"][:5]:
            w(f"     {q['total_ms']:10.1f} ms  {q['calls']:7d} calls  {q['mean_ms']:8.2f} ms/call  "
              f"queryid {q['queryid']}  {' '.join(q['query'].split())[:80]}")
        counts = s["finding_counts"]
        w(f"   findings: {sum(counts.values())} open ({', '.join(f'{n} {k}' for k, n in sorted(counts.items()))})")
        shown: dict[str, int] = {}
        for f in s["findings"]:
            shown[f["kind"]] = shown.get(f["kind"], 0) + 1
            if shown[f["kind"]] <= self.per_kind:
                w(f"     [{f['kind']}] {f['title']}" + (f"  -> {f['action']} (finding {f['id']})" if f["action"] else ""))
