"""The search backends: OpenSearch, Postgres and SQLite behind one interface (``base.SearchBackend``).

``search.engine`` chooses which one answers; nothing else imports a backend.
"""
