"""Proof-of-delivery uploads against local media and a real S3 API (moto's server mode):
content-checked, re-encoded without EXIF, and never a dangling row when storage fails."""

import io
import shutil
import struct
import subprocess
import zlib

import boto3
import pytest
from botocore.config import Config
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from PIL import Image
from storages.backends.s3 import S3Storage

from shipments.lifecycle import Status
from shipments.models import ProofOfDelivery, Shipment
from shipments.pod import pod_read
from tests.driver.conftest import GPS_IFD, jpeg_bytes
from tests.realservices import free_port, unavailable, wait_for_port

BUCKET = "dropmate-pod-test"
STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


def _moto() -> tuple[subprocess.Popen, str]:
    binary = shutil.which("moto_server") or shutil.which(
        "moto_server", path=str(__import__("pathlib").Path(__import__("sys").executable).parent)
    )
    if binary is None:
        unavailable("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port("127.0.0.1", port, timeout=30)
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    return proc, endpoint


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _s3_storages(endpoint: str, backend: str = "storages.backends.s3.S3Storage") -> dict:
    return {
        "default": {
            "BACKEND": backend,
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "default_acl": None,
                "file_overwrite": False,
                "client_config": Config(
                    retries={"max_attempts": 1, "mode": "standard"},
                    connect_timeout=2,
                    read_timeout=5,
                    s3={"addressing_style": "path"},
                ),
            },
        },
        "staticfiles": STATIC,
    }


@pytest.fixture(scope="module")
def moto_endpoint():
    proc, endpoint = _moto()
    try:
        yield endpoint
    finally:
        _stop(proc)


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    """Each test runs on local media and on S3 (moto server)."""
    if request.param == "local":
        config = {
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "media")},
            },
            "staticfiles": STATIC,
        }
    else:
        config = _s3_storages(request.getfixturevalue("moto_endpoint"))
    with override_settings(STORAGES=config):
        yield request.param


def _stored_names() -> list[str]:
    try:
        _dirs, files = default_storage.listdir("pod")
    except FileNotFoundError:
        return []
    return files


def _deliver(client, dan, shipment, **data):
    client.force_login(dan.user)
    return client.post(reverse("driver-job-deliver", args=[shipment.tracking_number]), data)


def test_valid_photo_is_stored_reencoded_with_exif_gps_gone(storage, client, dan, job):
    shipment = job(Status.OUT_FOR_DELIVERY)
    before = set(_stored_names())
    original = jpeg_bytes((800, 600), gps=(51.0543, 3.7174))
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the input has GPS
    response = _deliver(
        client,
        dan,
        shipment,
        photo=SimpleUploadedFile("../../etc/evil name.php", original, "application/x-php"),
        recipient_name="Dee",
    )
    assert response.status_code == 302
    pod = ProofOfDelivery.objects.get(shipment=shipment)
    # The server named the object; nothing of the uploaded name survived.
    assert pod.photo.name.startswith("pod/") and pod.photo.name.endswith(".jpg")
    assert "evil" not in pod.photo.name and ".php" not in pod.photo.name
    assert set(_stored_names()) - before == {pod.photo.name.split("/", 1)[1]}
    # Read the stored object back: a JPEG with no EXIF at all, GPS kept for staff only.
    stored = pod_read(pod=pod)
    assert stored != original
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG" and image.size == (800, 600)
    exif = image.getexif()
    assert not exif.get_ifd(GPS_IFD) and 0x010F not in exif
    assert b"TestCam" not in stored
    assert pod.photo_gps_lat == pytest.approx(51.0543, abs=1e-4)
    assert pod.photo_gps_lng == pytest.approx(3.7174, abs=1e-4)
    assert Shipment.objects.get(pk=shipment.pk).status == Status.DELIVERED


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), "red").save(out, format="GIF")
    return out.getvalue()


def _pixel_bomb() -> bytes:
    """A tiny PNG whose header claims 60000 x 60000 pixels."""
    out = io.BytesIO()
    Image.new("1", (8, 8)).save(out, format="PNG")
    data = bytearray(out.getvalue())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", 60000, 60000)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


BAD_FILES = {
    "wrong-type": (lambda: _gif(), "a GIF image"),
    "renamed-html": (
        lambda: b"<!doctype html><html><body><script>alert(1)</script></body></html>",
        "use a JPEG, PNG or WebP picture",
    ),
    "oversized": (lambda: jpeg_bytes((1600, 1200)) + b"\0" * 60_000, "too large"),
    "pixel-bomb": (_pixel_bomb, "too many pixels"),
    "truncated": (lambda: jpeg_bytes((400, 300))[:700], "damaged or incomplete"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_are_refused_with_a_clear_message(storage, client, dan, job, case, settings):
    settings.POD_MAX_BYTES = 50_000
    settings.POD_MAX_PIXELS = 4_000_000
    make, message = BAD_FILES[case]
    shipment = job(Status.OUT_FOR_DELIVERY)
    before = set(_stored_names())
    upload = SimpleUploadedFile("door.jpg", make(), "image/jpeg")
    response = _deliver(client, dan, shipment, photo=upload)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'role="alert"' in html
    assert not ProofOfDelivery.objects.filter(shipment=shipment).exists()
    assert set(_stored_names()) == before
    assert Shipment.objects.get(pk=shipment.pk).status == Status.OUT_FOR_DELIVERY


class _DiesAfterFirstSave(S3Storage):
    """Real S3 storage whose server is stopped right after the first object is written:
    S3 going away in the middle of a delivery's uploads."""

    server: subprocess.Popen | None = None

    def _save(self, name, content):
        saved = super()._save(name, content)
        if type(self).server is not None:
            _stop(type(self).server)
        return saved


@pytest.mark.django_db
def test_s3_stopping_mid_upload_gives_a_clear_error_and_no_dangling_row(client, dan, job):
    from tests.driver.conftest import png_bytes

    proc, endpoint = _moto()
    _DiesAfterFirstSave.server = proc
    backend = f"{__name__}._DiesAfterFirstSave"
    try:
        with override_settings(STORAGES=_s3_storages(endpoint, backend)):
            shipment = job(Status.OUT_FOR_DELIVERY)
            response = _deliver(
                client,
                dan,
                shipment,
                photo=SimpleUploadedFile("door.jpg", jpeg_bytes(), "image/jpeg"),
                signature=SimpleUploadedFile("sig.png", png_bytes(), "image/png"),
            )
    finally:
        _DiesAfterFirstSave.server = None
        _stop(proc)
    assert proc.poll() is not None  # the server really was stopped mid-way
    assert response.status_code == 503
    assert "photo store is not reachable" in response.content.decode()
    assert not ProofOfDelivery.objects.filter(shipment=shipment).exists()
    assert Shipment.objects.get(pk=shipment.pk).status == Status.OUT_FOR_DELIVERY


@pytest.mark.django_db
def test_s3_down_before_upload_gives_a_clear_error_and_no_row(client, dan, job):
    port = free_port()  # nothing listens here
    with override_settings(STORAGES=_s3_storages(f"http://127.0.0.1:{port}")):
        shipment = job(Status.OUT_FOR_DELIVERY)
        response = _deliver(
            client, dan, shipment, photo=SimpleUploadedFile("d.jpg", jpeg_bytes(), "image/jpeg")
        )
    assert response.status_code == 503
    assert "photo store is not reachable" in response.content.decode()
    assert not ProofOfDelivery.objects.exists()
