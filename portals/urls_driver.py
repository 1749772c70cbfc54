"""Routes of the driver portal (included by portals/urls.py under /driver/)."""

from django.urls import path

from portals.views import driver

urlpatterns: list = [
    path("", driver.home, name="driver-home"),
    path("duty", driver.duty, name="driver-duty"),
    path("messages/", driver.messages_list, name="driver-messages"),
    path("jobs/<str:tracking>/", driver.job_detail, name="driver-job"),
    path("jobs/<str:tracking>/accept", driver.job_accept, name="driver-job-accept"),
    path("jobs/<str:tracking>/decline", driver.job_decline, name="driver-job-decline"),
    path("jobs/<str:tracking>/status", driver.job_status, name="driver-job-status"),
    path("jobs/<str:tracking>/deliver", driver.job_deliver, name="driver-job-deliver"),
    path("offline/", driver.offline, name="driver-offline"),
    path("sw.js", driver.service_worker, name="driver-sw"),
    path("manifest.webmanifest", driver.manifest, name="driver-manifest"),
]
