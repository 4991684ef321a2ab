from django.core.management.base import BaseCommand

from config.beat import sync_beat_schedule


class Command(BaseCommand):
    help = "Write config/beat_schedule.py into django-celery-beat's tables (by name; enabled flags kept)."

    def handle(self, *args, **options):
        report = sync_beat_schedule()
        for kind, names in report.items():
            for name in names:
                self.stdout.write(f"{kind:9} {name}")
