from django.core.management.base import BaseCommand, CommandError

from perfmon.errors import ActionError
from scaling import services


class Command(BaseCommand):
    help = "Scale a group to N instances now (manual override, audited), or pause/resume its autoscaling."

    def add_arguments(self, parser):
        parser.add_argument("--group", required=True)
        parser.add_argument("--instances", type=int, help="the count to run")
        parser.add_argument("--reason", required=True, help="why (recorded in the audit trail)")
        parser.add_argument("--pause", action="store_true", help="pause autoscaling instead")
        parser.add_argument("--resume", action="store_true", help="resume autoscaling instead")
        parser.add_argument("--dry-run", action="store_true", help="check the request, change nothing")

    def handle(self, *args, group, instances, reason, pause, resume, dry_run, **options):
        if sum([instances is not None, pause, resume]) != 1:
            raise CommandError("give exactly one of --instances N, --pause or --resume")
        try:
            target = services.get_group(group)
            if dry_run:
                if instances is not None and not target.min_instances <= instances <= target.max_instances:
                    raise CommandError(f"group {group} takes {target.min_instances} to {target.max_instances} "
                                       f"instances; {instances} is outside that range")
                self.stdout.write(f"dry run: {group} would go from {target.desired_instances} to "
                                  f"{instances if instances is not None else ('paused' if pause else 'resumed')}")
                return
            if pause:
                services.pause_autoscaling(group=group, actor="manage.py", reason=reason)
                self.stdout.write(f"{group}: autoscaling paused")
            elif resume:
                services.resume_autoscaling(group=group, actor="manage.py", reason=reason)
                self.stdout.write(f"{group}: autoscaling resumed")
            else:
                result = services.scale_group(group=group, instances=instances, actor="manage.py", reason=reason)
                self.stdout.write(f"{group}: {result.from_instances} -> {result.to_instances} ({result.result}); "
                                  f"{result.reached_instances} starting or ready; event {result.event_id}")
        except ActionError as exc:
            raise CommandError(exc.message) from None
