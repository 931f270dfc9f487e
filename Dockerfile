# syntax=docker/dockerfile:1
# CloudShelf's production image (docs/deploy.md, "Container image"). Stages:
#   build   the virtualenv (/opt/venv) and the code with its static files collected
#   app     the shared runtime: slim Python, non-root user, no compilers, no build-time secret
#   lambda  app + the Lambda runtime interface client (CDK: target="lambda", cmd per function)
#   web     app serving HTTP with gunicorn; the last stage, so `docker build .` builds it
#
# The base is pinned by tag only: a digest would be better (a tag can be moved), but this
# repository is built and tested on a machine that cannot pull images to read one. Add
# `@sha256:...` from `docker buildx imagetools inspect python:3.11-slim-bookworm` when you can.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
# Every pinned requirement ships a manylinux wheel (psycopg-binary carries its libpq), so no
# compiler or -dev package is needed even here; the requirements layer is cached apart from the code.
COPY requirements.txt requirements-lambda.txt /app/
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r /app/requirements.txt
WORKDIR /app
COPY . /app
# collectstatic on the embedded default (no services needed). The SECRET_KEY only lets settings
# load: it is set for this one command, never in ENV, so no layer or config of the image holds it.
# Bytecode is compiled once here, so no container (read-only, or a Lambda cold start) compiles it.
RUN SECRET_KEY=build-only-collectstatic DATA_DIR=/tmp/build-data STATIC_ROOT=/app/collected-static \
        /opt/venv/bin/python manage.py collectstatic --no-input -v 0 \
    && rm -rf /tmp/build-data \
    && /opt/venv/bin/python -m compileall -q /app

FROM ${PYTHON_IMAGE} AS app
# Fixed ids, so a volume's owner and a Kubernetes/ECS securityContext can name them.
RUN groupadd --system --gid 10001 cloudshelf \
    && useradd --system --uid 10001 --gid cloudshelf --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin cloudshelf
# Only /tmp is written (read-only root filesystem friendly): DATA_DIR (the embedded default's
# files, local media), gunicorn's pid file and logs dir, Celery beat's schedule. Static files
# are part of the image, collected at build time, read-only. Logs go to stdout/stderr.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=cloudshelf.settings \
    DATA_DIR=/tmp/cloudshelf \
    STATIC_ROOT=/app/collected-static \
    LOG_DIR=/tmp/cloudshelf/log \
    RUN_DIR=/tmp/cloudshelf/run \
    GUNICORN_ACCESS_LOG=- \
    GUNICORN_ERROR_LOG=- \
    CELERY_BEAT_SCHEDULE_FILE=/tmp/celerybeat-schedule
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
USER 10001:10001
ENTRYPOINT ["/app/scripts/container.sh"]

FROM app AS lambda
# The runtime interface client lets this (non-AWS) base talk to Lambda's Runtime API. Installed
# as root into the venv, then back to the unprivileged user; Lambda ignores USER but ECS does not.
USER 0:0
RUN /opt/venv/bin/pip install --no-cache-dir -r /app/requirements-lambda.txt
USER 10001:10001
ENTRYPOINT ["/opt/venv/bin/python", "-m", "awslambdaric"]
# The App stack overrides CMD per function (scheduled tasks, manage commands).
CMD ["cloudshelf.aws_lambda.handler"]

FROM app AS web
EXPOSE 8000
# Asks this container's gunicorn for /health (Python's urllib: no curl in a slim image), with
# a Host that ALLOWED_HOSTS accepts (scripts/container.sh health).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/app/scripts/container.sh", "health"]
CMD ["web"]
