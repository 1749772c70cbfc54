"""Deleting old rows without long locks: the retention purges (idempotency keys, driver
replay records, location history) share this."""

from django.conf import settings
from django.db.models import QuerySet


def rows_delete_in_batches(*, queryset: QuerySet, batch_size: int | None = None) -> int:
    """Delete the queryset's rows one primary-key chunk at a time; returns how many went.

    Each chunk is one short `DELETE ... WHERE pk IN (...)` committed on its own (call this
    outside a transaction), so a large backlog never locks the table for long nor sits in
    memory. The walk moves up by primary key, so a chunk never reads past rows an earlier one
    deleted (PostgreSQL keeps their index entries until vacuum). Meant for rows nothing else
    cascades from: the count is the queryset's own model only.
    """
    batch_size = settings.RETENTION_DELETE_BATCH_SIZE if batch_size is None else batch_size
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    model = queryset.model
    deleted = 0
    last_pk = None
    while True:
        chunk = queryset.order_by("pk")
        if last_pk is not None:
            chunk = chunk.filter(pk__gt=last_pk)
        pks = list(chunk.values_list("pk", flat=True)[:batch_size])
        if not pks:
            return deleted
        _, per_model = model._base_manager.filter(pk__in=pks).delete()
        deleted += per_model.get(model._meta.label, 0)
        if len(pks) < batch_size:
            return deleted
        last_pk = pks[-1]
