"""The Celery application. Workers start with ``celery -A cloudshelf worker``, the scheduler
with ``celery -A cloudshelf beat`` (both under supervisord in ``make up``: scripts/app.sh).

Without ``CELERY_BROKER_URL`` tasks run in-process (``task_always_eager``), so the
embedded default needs no broker; with it, they go to Redis and a worker runs them.
Every worker publishes a heartbeat (``cloudshelf.heartbeat``) that readiness reads.
"""

import os

from celery import Celery

from cloudshelf.heartbeat import WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudshelf.settings")

app = Celery("cloudshelf")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.steps["worker"].add(WorkerHeartbeat)
app.autodiscover_tasks()
# The project package is no installed app, so the line above misses cloudshelf/tasks.py
# (sessions_clear_expired, which beat sends daily); name it.
app.autodiscover_tasks(["cloudshelf"])
