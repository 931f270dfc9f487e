"""The Celery application. Workers start with ``celery -A cloudshelf worker``.

Without ``CELERY_BROKER_URL`` tasks run in-process (``task_always_eager``), so the
embedded default needs no broker; with it, they go to Redis and a worker runs them.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudshelf.settings")

app = Celery("cloudshelf")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
