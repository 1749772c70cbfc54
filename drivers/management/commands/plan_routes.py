import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from drivers.planning.services import plan_routes


class Command(BaseCommand):
    help = "Plan the day's routes with the vehicle-routing solver and write them."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD (default: today)")
        parser.add_argument("--time-budget", type=float, help="seconds the solver may take")

    def handle(self, *args, date=None, time_budget=None, **options):
        try:
            day = dt.date.fromisoformat(date) if date else None
        except ValueError:
            raise CommandError(f"--date must look like 2026-05-01, not {date!r}.") from None
        if time_budget is not None and not 0 < time_budget <= 600:
            raise CommandError("--time-budget must be between 0 and 600 seconds.")
        result = plan_routes(
            date=day,
            time_budget_s=time_budget,
            trigger="command",
            progress=lambda line: self.stdout.write(line),
        )
        for route in result.routes:
            self.stdout.write(f"  {route['driver']}: {len(route['stops'])} stops")
        for row in result.unassigned:
            self.stdout.write(f"  not planned {row['tracking_number']}: {row['reason']}")
        for kind in ("shipments", "drivers"):
            for row in result.excluded.get(kind, []):
                label = row.get("tracking_number") or row.get("name")
                self.stdout.write(f"  left out {label}: {row['reason']}")
        for note in result.notes:
            self.stdout.write(f"  note: {note}")
        if not result.ok:
            raise CommandError(result.message)
        self.stdout.write(self.style.SUCCESS(result.message))
