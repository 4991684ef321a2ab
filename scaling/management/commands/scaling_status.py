import json

from django.core.management.base import BaseCommand, CommandError

from perfmon.errors import ActionError
from scaling import selectors, services


class Command(BaseCommand):
    help = "Show each scaling group: size, instances, recent events and what the next tick would decide."

    def add_arguments(self, parser):
        parser.add_argument("--group", help="only this group")
        parser.add_argument("--events", type=int, default=5, help="recent events per group")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, group, events, json: bool, **options):
        if group:
            try:
                services.get_group(group)
            except ActionError as exc:
                raise CommandError(exc.message) from None
        rows = [r for r in selectors.groups_overview(events_per_group=events) if not group or r["group"].name == group]
        if json:
            self.stdout.write(_json(rows))
            return
        if not rows:
            self.stdout.write("no scaling groups")
        for row in rows:
            g, nxt = row["group"], row["next"] or {}
            state = "autoscaling" if g.enabled else f"paused ({g.paused_reason})"
            self.stdout.write(f"{g.name}: {g.desired_instances} desired ({g.min_instances}..{g.max_instances}), "
                              f"backend {g.backend}, {state}")
            for inst in row["instances"]:
                self.stdout.write(f"  {inst.instance_id:<32} {inst.state:<10} {inst.last_health_detail}")
            if "error" in nxt:
                self.stdout.write(f"  next tick: cannot decide: {nxt['error']}")
            else:
                self.stdout.write(f"  metrics: {nxt.get('metrics')}")
                self.stdout.write(f"  next tick: {nxt.get('direction')} to {nxt.get('desired')} ({nxt.get('reason')})")
            for event in row["events"]:
                self.stdout.write(f"  {event.at:%Y-%m-%d %H:%M:%S} {event.kind:<9} {event.from_instances}->"
                                  f"{event.to_instances} {event.result:<7} {event.actor_label}: {event.reason[:80]}")


def _json(rows) -> str:
    out = []
    for row in rows:
        g = row["group"]
        out.append({"name": g.name, "desired": g.desired_instances, "min": g.min_instances, "max": g.max_instances,
                    "enabled": g.enabled, "instances": [{"id": i.instance_id, "state": i.state} for i in row["instances"]],
                    "next": row["next"],
                    "events": [{"at": e.at.isoformat(), "kind": e.kind, "from": e.from_instances, "to": e.to_instances,
                                "result": e.result, "reason": e.reason} for e in row["events"]]})
    return json.dumps(out, indent=2, default=str)
