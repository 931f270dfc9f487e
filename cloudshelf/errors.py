from django.views.defaults import page_not_found, server_error  # noqa: F401  (replaced by the pages work)
