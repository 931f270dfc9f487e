"""Hash tags: how keys that one Lua script or ``MULTI`` uses together land in one Redis Cluster slot.

A Redis Cluster hashes only the part of a key between the first ``{`` and the next ``}``
when there is one (the *hash tag*), so ``cart:{user:7}`` and ``cart:{user:7}:merged:ab12``
are always on the same node and one script may touch both. On a single Redis a tag is
just part of the name. The layout of every tagged key is in docs/operations.md.
"""

from __future__ import annotations

import hashlib


def hash_tag(name: str) -> str:
    """``{name}``: the tag that puts every key built around it in the slot of ``name``.

    A name that a tag cannot hold as it is (empty, or with a brace that would end the tag
    early or start another) is replaced by ``#`` and a digest of it, so any input, hostile
    included, still gives one tag per name; a name starting with ``#`` is digested too, so
    none can pose as another's digest.
    """
    if name and not name.startswith("#") and "{" not in name and "}" not in name:
        return f"{{{name}}}"
    return "{#" + hashlib.blake2b(name.encode(), digest_size=8).hexdigest() + "}"
