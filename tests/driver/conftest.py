"""Driver-portal fixtures: images made in memory, and a job factory on top of the shared
personas (alice the customer, dan the driver, erin another driver, dora dispatches)."""

import io
from decimal import Decimal

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from shipments import services
from shipments.lifecycle import Status
from shipments.models import Shipment

GPS_IFD = 0x8825


def jpeg_bytes(
    size: tuple[int, int] = (64, 48),
    *,
    gps: tuple[float, float] | None = None,
    color=(200, 30, 30),
) -> bytes:
    """A real JPEG, optionally with an EXIF GPS position (lat, lng in degrees)."""
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    if gps is not None:
        lat, lng = gps

        def dms(value: float):
            value = abs(value)
            d = int(value)
            m = int((value - d) * 60)
            s = round(((value - d) * 60 - m) * 60 * 1000)
            return (IFDRational(d, 1), IFDRational(m, 1), IFDRational(s, 1000))

        exif.get_ifd(GPS_IFD).update(
            {1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lng >= 0 else "W", 4: dms(lng)}
        )
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (120, 60)) -> bytes:
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    for x in range(10, 110):
        image.putpixel((x, 30), (0, 0, 0, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def job(shipment_in):
    """Factory: one of dan's jobs in a status, with optional fields (declared value...)."""

    def make(status: str = Status.ASSIGNED, **fields) -> Shipment:
        return shipment_in(status, **fields)

    return make


@pytest.fixture
def pin_job(alice, dan, dora):
    """Factory: a valuable parcel accepted through `shipment_accept` (so it gets a handover
    PIN), assigned to dan and walked to out_for_delivery. Returns (shipment, pin)."""
    from tests.factories import draft_fields

    def make(declared_value: Decimal = Decimal("900.00")) -> tuple[Shipment, str]:
        import shipments.handover as handover

        shipment = services.shipment_create_draft(
            customer=alice, **draft_fields(declared_value=declared_value)
        )
        shipment = services.shipment_transition(
            shipment=shipment, to=Status.AWAITING_PAYMENT, actor=alice
        )
        shipment = services.shipment_transition(
            shipment=shipment, to=Status.PENDING_REVIEW, actor=None
        )
        issued: list[str] = []
        original = handover.handover_pin_issue

        def capture(*, shipment):
            pin = original(shipment=shipment)
            issued.append(pin)
            return pin

        handover.handover_pin_issue = capture
        try:
            shipment = services.shipment_accept(shipment=shipment, actor=dora)
        finally:
            handover.handover_pin_issue = original
        shipment = services.shipment_assign(shipment=shipment, actor=dora, driver=dan)
        for to in (Status.PICKED_UP, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY):
            shipment = services.shipment_transition(shipment=shipment, to=to, actor=dan.user)
        return shipment, issued[0]

    return make
