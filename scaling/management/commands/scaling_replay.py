from django.core.management.base import BaseCommand, CommandError

from perfmon.errors import ActionError
from scaling import replay
from scaling.models import ScalingGroup
from scaling.policies import PolicyConfigError, build_policy
from scaling.selectors import behavior_for, policies_for


class Command(BaseCommand):
    help = ("Replay a load trace (t_seconds,requests_per_second) through the autoscaler's decision code on a "
            "simulated clock; write t_seconds,desired and compare with an HPA-style baseline.")

    def add_arguments(self, parser):
        parser.add_argument("--trace", required=True, help="input CSV: t_seconds,requests_per_second")
        parser.add_argument("--out", required=True, help="output CSV: t_seconds,desired (one row per input row)")
        parser.add_argument("--capacity", type=float, required=True, help="requests per second one instance serves")
        parser.add_argument("--warmup", type=float, default=60.0, help="seconds from request to ready")
        parser.add_argument("--min", type=int, default=None, dest="min_instances")
        parser.add_argument("--max", type=int, default=None, dest="max_instances")
        parser.add_argument("--tick", type=float, default=15.0, help="seconds between decisions")
        parser.add_argument("--initial", type=int, default=None, help="ready instances at the start (default min)")
        parser.add_argument("--group", default="web", help="group whose policies and behaviour to replay")
        parser.add_argument("--policy", default=None,
                            help="instead of the group's policies: 'default' (target tracking at 85 %% of "
                                 "capacity under a predictive floor at 90 %%) or 'hpa'")
        parser.add_argument("--target-utilization", type=float, default=0.7,
                            help="share of --capacity the HPA-style baseline aims for")

    def handle(self, *args, **o):
        try:
            rows = replay.read_trace(o["trace"])
            policies, behavior, label, group = self._policies(o)
            config = replay.ReplayConfig(
                capacity=o["capacity"], warmup=o["warmup"], tick=o["tick"], initial=o["initial"],
                min_instances=o["min_instances"] if o["min_instances"] is not None else (group.min_instances if group else 1),
                max_instances=o["max_instances"] if o["max_instances"] is not None else (group.max_instances if group else 10))
            result = replay.simulate(rows, policies, behavior, config, name=label)
            baseline = replay.simulate(rows, *replay.hpa_baseline(o["capacity"], o["target_utilization"], o["tick"],
                                                                  o["warmup"]), config, name="hpa-baseline")
            replay.write_desired(rows, result.desired, o["out"])
        except (ActionError, PolicyConfigError) as exc:
            raise CommandError(getattr(exc, "message", str(exc))) from None
        except OSError as exc:
            raise CommandError(f"cannot write {o['out']}: {exc.strerror or exc}") from None
        self.stdout.write(f"{len(rows)} rows replayed, tick {o['tick']:g}s, warm-up {o['warmup']:g}s, "
                          f"capacity {o['capacity']:g} rps per instance; wrote {o['out']}")
        for line in replay.summary_lines([result, baseline]):
            self.stdout.write(line)

    def _policies(self, o):
        from dataclasses import replace

        choice = o["policy"]
        if choice == "hpa":
            policies, behavior = replay.hpa_baseline(o["capacity"], o["target_utilization"], o["tick"], o["warmup"])
            return policies, behavior, "hpa", None
        group = ScalingGroup.objects.filter(name=o["group"]).first()
        if choice == "default" or (choice is None and group is None):
            policies, behavior = replay.default_replay_policies(o["capacity"], o["tick"], o["warmup"])
            return policies, behavior, "default policies", group
        if choice is not None:
            raise CommandError(f"--policy must be 'default' or 'hpa', got {choice!r}")
        policies = policies_for(group)
        if not policies:
            raise CommandError(f"group {group.name} has no usable policy")
        for row in group.policies.filter(enabled=True):
            build_policy(row.kind, row.metric, row.params)
        behavior = replace(behavior_for(group), tick_seconds=o["tick"], warmup_seconds=o["warmup"])
        return policies, behavior, f"group {group.name}", group
