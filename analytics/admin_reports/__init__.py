"""The staff report pages under ``/admin/reports/``: sales, categories, top sellers, searches,
the funnel, stock running low and performance against the service levels, with SVG charts
and CSV export. Data comes from ``analytics.reports`` (on the replica), the metrics store
and the real-user beacons; nothing here writes."""
