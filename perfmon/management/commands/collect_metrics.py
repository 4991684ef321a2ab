from django.core.management.base import BaseCommand

from perfmon.services import record_host_sample


class Command(BaseCommand):
    help = "Collect one round of metrics now (host sample) and print it."

    def handle(self, *args, **options):
        sample = record_host_sample()
        self.stdout.write(f"host {sample.host}: cpu {sample.cpu_percent:.1f}% memory {sample.memory_percent:.1f}% "
                          f"swap {sample.swap_percent:.1f}% disk {sample.disk_percent:.1f}% load {sample.load1:.2f}")
