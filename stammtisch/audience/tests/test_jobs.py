from __future__ import annotations

import datetime as dt

from stammtisch.audience import jobs
from stammtisch.audience.models import Person
from stammtisch.audience.tests.conftest import NOW, message
from stammtisch.core.worker import default_jobs


def test_the_worker_runs_the_audience_job(cast, channel) -> None:
    job = next(job for job in default_jobs() if job.name == "audience")
    assert not job.atomic  # each batch commits on its own
    message(channel)
    job.run(NOW)
    assert Person.objects.count() == 1


def test_a_run_reads_new_rows_and_the_daily_part_once(cast, channel) -> None:
    message(channel, at=NOW)
    jobs.run(NOW)
    message(channel, at=NOW + dt.timedelta(minutes=1))
    jobs.run(NOW + dt.timedelta(minutes=1))
    assert Person.objects.get().engagements.count() == 2
    assert not jobs.daily_due(NOW + dt.timedelta(hours=1))
