"""Reads of the catalog, one module per reader.

* ``pages``: the customer-facing pages (listings, deep pages, the home page, a book page);
* ``categories``: the one category index (rows, tree, branch, trail, roots), cleared by the
  catalog when a category is saved or deleted;
* ``cards``: the partner API's book cards, read as plain values.
"""
