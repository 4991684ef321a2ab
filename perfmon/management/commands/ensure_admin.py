import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Make sure an admin user exists. Takes DJANGO_SUPERUSER_USERNAME / DJANGO_SUPERUSER_PASSWORD "
            "from the environment; otherwise creates 'admin' with a random password and prints it once.")

    def handle(self, *args, **options):
        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        user = User.objects.filter(username=username).first()
        if user is not None:
            if password and not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
                self.stdout.write(f"admin user {username!r}: password set from DJANGO_SUPERUSER_PASSWORD")
            else:
                self.stdout.write(f"admin user {username!r} exists")
            return
        generated = not password
        password = password or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email=os.environ.get("DJANGO_SUPERUSER_EMAIL", ""),
                                      password=password)
        if generated:
            self.stdout.write(self.style.SUCCESS(
                f"created admin user {username!r} with password {password!r} (shown once; "
                "set DJANGO_SUPERUSER_PASSWORD to choose it)"))
        else:
            self.stdout.write(f"created admin user {username!r} with the password from DJANGO_SUPERUSER_PASSWORD")
