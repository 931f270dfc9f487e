"""The relevance suite: how well search and autocomplete rank the books shoppers mean.

``judgments.toml`` is the judged query set (queries, prefixes and the books meant, best
first); ``judgments`` loads and checks it; ``metrics`` scores one ranking against one
judgment (success@k, reciprocal rank, nDCG@5) and averages them; ``suite`` asks a backend
directly (no caches, no analytics) for every judgment; ``catalog`` builds the dedicated
catalog it is scored on. ``manage.py search_relevance`` (``make relevance``) runs it all,
and ``tests/search/test_relevance_suite.py`` holds CI to floors.
"""
