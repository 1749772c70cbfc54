from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from shipments.demo import DEMO_PASSWORD, demo_seed


class Command(BaseCommand):
    help = "Load a small city's business day of demo data. Safe to run again: keeps what exists."

    def handle(self, *args, **options) -> None:
        if settings.IS_PRODUCTION:
            raise CommandError(
                "Refusing to load demo data into a production configuration "
                "(DJANGO_DEBUG is not 1). Demo users have a published password."
            )
        summary = demo_seed(progress=lambda line: self.stdout.write(f"  {line}"))
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {summary.users_created} users and "
                f"{summary.shipments_created} shipments created."
            )
        )
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for role, email in summary.logins:
            self.stdout.write(f"  {role:<10} {email}")
