"""Proof of delivery: a photo, a drawn signature and the recipient's name.

Files are judged by their content, never their name or declared type: Pillow must recognise
JPEG, PNG or WebP; size and pixel count are bounded before anything is decoded (decompression
bombs are refused); the image is fully decoded (truncated files are refused) and re-encoded,
so nothing but pixels survives — EXIF included, after its GPS position is read into a
staff-only field. Object keys come from `pod_upload_to`. Files are stored through Django's
storage API (S3 or local media) before the row is written; if storage fails nothing is
written, and if the row cannot be written the stored files are removed.
"""

import io
import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageOps, UnidentifiedImageError

from dropmate.lib.exceptions import DomainError, Invalid
from shipments.models import ProofOfDelivery, Shipment

logger = logging.getLogger(__name__)

ALLOWED_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP"}
_GPS_IFD = 0x8825


class StorageUnavailable(DomainError):
    """The file store (S3 or disk) refused or could not be reached."""

    code = "storage_unavailable"
    http_status = 503


@dataclass(frozen=True)
class CleanImage:
    content: bytes
    extension: str
    gps: tuple[float, float] | None


def _read_all(upload, *, label: str) -> bytes:
    """At most POD_MAX_BYTES + 1 bytes: an oversized file is refused without reading it all."""
    limit = settings.POD_MAX_BYTES
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise Invalid(
            f"The {label} is too large ({size // 1024} KB); the limit is {limit // 1024} KB.",
            details={"field": label},
        )
    if isinstance(upload, bytes | bytearray):
        data = bytes(upload)
    else:
        if hasattr(upload, "seek"):
            upload.seek(0)
        data = upload.read(limit + 1)
    if len(data) > limit:
        raise Invalid(
            f"The {label} is too large; the limit is {limit // 1024} KB.",
            details={"field": label},
        )
    if not data:
        raise Invalid(f"The {label} is empty.", details={"field": label})
    return data


def _ratio(value) -> float:
    try:
        return float(value)
    except (TypeError, ZeroDivisionError, ValueError):
        num, den = value
        return float(num) / float(den)


def _gps_from_exif(image: Image.Image) -> tuple[float, float] | None:
    """The photo's GPS position in decimal degrees, or None when absent or malformed."""
    try:
        gps = image.getexif().get_ifd(_GPS_IFD)
        if not gps or 2 not in gps or 4 not in gps:
            return None
        lat = sum(_ratio(v) / 60**i for i, v in enumerate(gps[2]))
        lng = sum(_ratio(v) / 60**i for i, v in enumerate(gps[4]))
        if str(gps.get(1, "N")).upper().startswith("S"):
            lat = -lat
        if str(gps.get(3, "E")).upper().startswith("W"):
            lng = -lng
    except Exception:  # noqa: BLE001 - broken EXIF is common and never fatal
        return None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    return (round(lat, 7), round(lng, 7))


def image_clean(upload, *, label: str = "photo", keep_alpha: bool = False) -> CleanImage:
    """Validate an uploaded image by content and re-encode it. Raises Invalid with a message
    a driver can act on; never lets a Pillow error escape."""
    data = _read_all(upload, label=label)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            width, height = probe.size
    except Image.DecompressionBombError:
        width = height = settings.POD_MAX_PIXELS + 1  # refused just below
        fmt = "bomb"
    except (UnidentifiedImageError, OSError, ValueError):
        raise Invalid(
            f"The {label} is not an image we accept: use a JPEG, PNG or WebP picture.",
            details={"field": label},
        ) from None
    if fmt not in ALLOWED_FORMATS and fmt != "bomb":
        raise Invalid(
            f"The {label} is a {fmt} image; use a JPEG, PNG or WebP picture.",
            details={"field": label},
        )
    if width * height > settings.POD_MAX_PIXELS or width <= 0 or height <= 0:
        raise Invalid(
            f"The {label} has too many pixels; the limit is {settings.POD_MAX_PIXELS:,} pixels.",
            details={"field": label},
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decodes everything: a truncated file fails here
            gps = _gps_from_exif(image)
            image = ImageOps.exif_transpose(image)
            image.thumbnail((settings.POD_MAX_DIMENSION, settings.POD_MAX_DIMENSION))
            out = io.BytesIO()
            has_alpha = image.mode in ("RGBA", "LA", "P") and keep_alpha
            if has_alpha:
                image.convert("RGBA").save(out, format="PNG", optimize=True)
                extension = "png"
            else:
                image.convert("RGB").save(out, format="JPEG", quality=85, optimize=True)
                extension = "jpg"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise Invalid(
            f"The {label} could not be read; it may be damaged or incomplete. Take it again.",
            details={"field": label},
        ) from None
    return CleanImage(content=out.getvalue(), extension=extension, gps=gps)


def _store(field_file, clean: CleanImage, stored: list) -> None:
    # The name only carries the extension: `pod_upload_to` makes the key.
    try:
        field_file.save(f"upload.{clean.extension}", ContentFile(clean.content), save=False)
    except Exception as exc:  # noqa: BLE001 - any storage backend error means "not stored"
        logger.warning("POD storage failed: %s", exc)
        raise StorageUnavailable(
            "The photo store is not reachable right now, so nothing was saved. "
            "Try again in a moment; if you are offline the app keeps it and retries.",
        ) from exc
    stored.append(field_file.name)


def _discard(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # noqa: BLE001 - best effort; the outage is already being reported
            logger.warning("Could not remove orphan POD object %s", name)


def pod_save(
    *,
    shipment: Shipment,
    photo=None,
    signature=None,
    recipient_name: str = "",
    lat: float | None = None,
    lng: float | None = None,
    captured_at: datetime | None = None,
) -> ProofOfDelivery:
    """Store proof of delivery for `shipment` (replacing an earlier one). The caller has
    checked the actor may act on the shipment. `photo` and `signature` are uploaded files or
    bytes. Raises Invalid for a refused file, StorageUnavailable when storage fails."""
    recipient_name = (recipient_name or "").strip()
    if len(recipient_name) > 100:
        raise Invalid("The recipient's name is too long.", details={"field": "recipient_name"})
    if photo is None and signature is None:
        raise Invalid("Add a photo or the recipient's signature.", details={"field": "photo"})
    for value, name, bound in ((lat, "lat", 90), (lng, "lng", 180)):
        if value is not None and not -bound <= value <= bound:
            raise Invalid("The position is out of range.", details={"field": name})
    clean_photo = image_clean(photo, label="photo") if photo is not None else None
    clean_sig = (
        image_clean(signature, label="signature", keep_alpha=True)
        if signature is not None
        else None
    )

    pod = ProofOfDelivery(shipment=shipment)
    stored: list[str] = []
    try:
        if clean_photo:
            _store(pod.photo, clean_photo, stored)
        if clean_sig:
            _store(pod.signature, clean_sig, stored)
    except StorageUnavailable:
        _discard(stored)
        raise

    try:
        with transaction.atomic():
            previous = ProofOfDelivery.objects.select_for_update().filter(shipment=shipment).first()
            old_names: list[str] = []
            if previous is not None:
                old_names = [f.name for f in (previous.photo, previous.signature) if f]
                previous.photo, previous.signature = pod.photo.name or "", pod.signature.name or ""
                pod = previous
            pod.recipient_name = recipient_name
            pod.lat, pod.lng = lat, lng
            pod.photo_gps_lat, pod.photo_gps_lng = (
                clean_photo.gps if clean_photo and clean_photo.gps else (None, None)
            )
            pod.captured_at = captured_at or timezone.now()
            pod.save()
            if old_names:
                transaction.on_commit(lambda: _discard(old_names))
    except Exception:
        _discard(stored)
        raise
    return pod


def pod_read(*, pod: ProofOfDelivery, which: str = "photo") -> bytes:
    """The stored bytes of a POD file (for staff views and tests)."""
    field = getattr(pod, which)
    with default_storage.open(field.name, "rb") as fh:
        return fh.read()
