"""Planned tasks: declared by plugins, chosen by an admin, run by one leader.

Public names: :class:`SchedulerService`, :func:`start_embedded`, :class:`JobFailed` (raised by
a job that wants its counts kept with its failure) and :class:`CronSchedule`.
"""

from medshake_bridge.scheduler.cron import CronFieldError, CronSchedule
from medshake_bridge.scheduler.runs import JobBusy, JobFailed, execute_job
from medshake_bridge.scheduler.service import SchedulerService, start_embedded

__all__ = [
    "CronFieldError",
    "CronSchedule",
    "JobBusy",
    "JobFailed",
    "SchedulerService",
    "execute_job",
    "start_embedded",
]
