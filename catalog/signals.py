"""Domain events the catalog announces. Other apps listen; the catalog imports none of them.

``books_changed`` is sent after the transaction that changed the books commits, with
``book_ids``: the primary keys of every book whose page, price, stock or rating may have
changed. The search index and the cache listen to it (later issues).
"""

from django.dispatch import Signal

books_changed = Signal()
