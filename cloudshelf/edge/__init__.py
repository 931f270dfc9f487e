"""The edge tier: whole-page caching, HTTP caching headers, CDN and static/media delivery.

Infrastructure only: nothing here imports an app of ours. Apps declare what their pages
depend on (``page_cache.page_depends_on``) and announce changes (``page_cache.pages_changed``);
see docs/edge.md.
"""
