"""Template filters for shipment pages: `{% load shipments_extras %}`."""

from django import template

from shipments.lifecycle import note_for_people

register = template.Library()


@register.filter
def note_text(note: str) -> str:
    """An event's note as people read it (a failed attempt's reason code left out)."""
    return note_for_people(note)
