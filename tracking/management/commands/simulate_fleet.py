"""manage.py simulate_fleet --drivers N --rate R --duration S [--via direct|http|socket]

Moves N demo drivers along plausible paths between their stops and sends real fixes through
the location pipeline: in this process (direct), or to a running server over HTTP
(POST /api/v1/drivers/me/locations) or the driver socket (/ws/driver/). R is fixes per second
for the whole fleet. Prints progress every second. Refused in production mode."""

import time
from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from tracking import simulator


class Command(BaseCommand):
    help = "Move demo drivers and send their fixes through the live-tracking pipeline."

    def add_arguments(self, parser):
        parser.add_argument("--drivers", type=int, default=5)
        parser.add_argument("--rate", type=float, default=5.0, help="fixes per second, in all")
        parser.add_argument("--duration", type=float, default=60.0, help="seconds")
        parser.add_argument("--via", choices=["direct", "http", "socket"], default="direct")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="server (http/socket)")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, drivers, rate, duration, via, url, seed, **options):
        if drivers < 1 or rate <= 0 or duration <= 0:
            raise CommandError("--drivers, --rate and --duration must be positive.")
        try:
            sims = simulator.drivers_prepare(count=drivers, seed=seed)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Simulating {len(sims)} drivers at {rate:g} fixes/s for {duration:g}s via {via}."
        )
        if via != "direct":
            for sim in sims:
                sim.session = simulator.session_for(sim.driver.user)
        socket = None
        if via == "direct":
            send = simulator.direct_sender()
        elif via == "http":
            send = simulator.http_sender(url)
        else:
            try:
                socket = send = simulator.SocketSender(url, sims)
            except Exception as exc:
                raise CommandError(f"Could not open driver sockets at {url}: {exc}") from exc

        def report(elapsed: float, totals: Counter) -> None:
            counts = totals + (socket.acks if socket else Counter())
            detail = " ".join(
                f"{k}={counts[k]}"
                for k in ("accepted", "duplicate", "flagged", "rejected", "error")
                if counts[k]
            )
            per_s = counts["sent"] / max(elapsed, 0.001)
            self.stdout.write(f"  {elapsed:5.1f}s sent={counts['sent']} ({per_s:.0f}/s) {detail}")

        totals = simulator.run(sims=sims, rate=rate, duration=duration, send=send, report=report)
        if socket is not None:
            time.sleep(1.0)  # let the last acks arrive
            totals += socket.acks
            socket.close()
        if via == "direct":
            from tracking.buffer import buffer

            buffer.flush()
        self.stdout.write(self.style.SUCCESS(f"Done: {dict(totals)}"))
