"""The fleet simulator sends real fixes through the pipeline and reports progress."""

import ast
from io import StringIO

import pytest
from django.core.management import call_command

from drivers.models import Driver
from tracking import simulator
from tracking.models import LocationFix

pytestmark = pytest.mark.django_db(transaction=True)


def test_simulate_fleet_moves_drivers_through_the_pipeline(dan):
    out = StringIO()
    call_command("simulate_fleet", drivers=3, rate=30, duration=1.2, stdout=out)
    text = out.getvalue()
    assert "Simulating 3 drivers" in text and "Done:" in text and "sent=" in text
    assert Driver.objects.filter(on_duty=True).count() == 3  # dan and two demo drivers
    done = ast.literal_eval(text.split("Done: ", 1)[1].strip())
    # However slow this machine is, every fix sent was accepted and stored, from each driver.
    assert done["sent"] >= 3 and done["accepted"] == done["sent"]
    assert LocationFix.objects.filter(flagged=False).count() == done["sent"]
    assert LocationFix.objects.values("driver").distinct().count() == 3
    dan.refresh_from_db()
    assert dan.last_fix_at is not None


def test_simulated_driver_moves_plausibly(dan):
    [sim] = simulator.drivers_prepare(count=1)
    before = (sim.lat, sim.lng)
    sim.step(10.0)
    moved = simulator.eta.distance_m(before, (sim.lat, sim.lng))
    assert moved == pytest.approx(sim.speed * 10, rel=0.05) or moved < sim.speed * 10


def test_simulator_is_refused_in_production(settings):
    settings.IS_PRODUCTION = True
    with pytest.raises(RuntimeError):
        simulator.drivers_prepare(count=1)
