"""Dispatch planning: routes for the day from a vehicle-routing solver.

`problem` holds the plain data the solver sees; `solver` is the one module that talks to VROOM;
`matrix` makes travel times; `checker` verifies any plan independently; `services` reads the
database, plans and writes routes; `selectors` reads them back; `triggers` re-plans on events.
"""
