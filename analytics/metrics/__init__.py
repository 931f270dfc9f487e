"""Server-side metrics: every request and Celery task timed, classified and counted.

``middleware`` times each request and writes one CloudWatch EMF line (``emf``); ``store``
keeps per-minute histograms in Redis for the last day's percentiles and the fleet's
cumulative totals that ``/metrics`` (``views``, ``prometheus``) renders; ``task_signals``
does the same for Celery tasks; ``tracing`` turns on OpenTelemetry when asked. See
docs/observability.md.
"""
