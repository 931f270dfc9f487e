"""Each book's hot record in DynamoDB: what the partner API's book detail and availability read.

Postgres stays the system of record. After each commit that changes what a record shows,
Celery writes the record (``sync``); ``manage.py dynamo_sync`` backfills the table and checks
it for drift; reads (``reads``) go to DynamoDB when ``DYNAMODB_TABLE`` is set, behind a
circuit breaker that falls back to Postgres. Design: docs/hot-data.md.
"""
