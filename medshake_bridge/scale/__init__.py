"""Beyond one machine: the ``celery`` execution mode (issue 19).

``inline`` (the default) is the bridge as it always was: one process collects, the scheduler
runs each job itself. ``celery`` puts the work on a Celery queue (Redis broker) consumed by
``medshake-bridge worker`` processes on any number of hosts sharing one PostgreSQL (or MariaDB)
and one data folder. Celery is imported only in that mode (extra ``scale``).

Modules: :mod:`.executor` (the mode and its settings), :mod:`.ledger` (the jobs in the
database), :mod:`.dispatch` (what is enqueued),
:mod:`.celery_app` (the Celery app and its tasks), :mod:`.heartbeat` (workers seen),
:mod:`.status` (what the pages, ``workers`` and ``doctor`` show).
"""
