"""The Content-Security-Policy: what a page may load and run, and the few pages that need more.

Every page of ours loads scripts and styles from our own origin (or the static host, when
static files are on S3/CloudFront) and has no inline script or style, so the policy allows
nothing inline. Three kinds of page are not written by us and get narrow additions:

- ``500.html`` keeps its one ``<style>`` block inline on purpose (it must render when
  static files are what failed): 5xx responses allow exactly that block, by its sha256.
- The Django admin has one constant inline ``<style>`` block (a change list without
  actions): admin pages allow exactly that block, by its hash. Admin pages show our data,
  so nothing else inline is allowed there.
- The API docs (Swagger UI and Redoc, drf-spectacular's self-hosted bundles) style their
  pages at run time and Redoc searches in a ``blob:`` worker: under ``/api/docs/`` styles
  may be inline and workers may come from ``blob:``. Scripts stay ours only
  (Swagger UI's start-up script is served as a file by ``SpectacularSwaggerSplitView``).

Hashes are computed once per process from the templates themselves, so a Django or
drf-spectacular upgrade that changes a block changes the hash with it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from urllib.parse import urlsplit

from csp.constants import NONE, SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.template import Context, Engine, engines

# An inline block's body (the text between the tags), for hashing.
_STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)

API_DOCS_PREFIX = "/api/docs/"
ADMIN_PREFIX = "/admin/"


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute URL (a static or media URL on S3/CloudFront), else None."""
    parts = urlsplit(url)
    if parts.scheme in {"http", "https"} and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def content_security_policy(*, static_url: str, media_url: str) -> dict[str, dict[str, list[str]]]:
    """The ``CONTENT_SECURITY_POLICY`` setting of django-csp for these static and media URLs.

    Our own origin only, plus the host static files (scripts, styles, fonts, images) and
    media (images) are served from when it is another one. ``data:`` images are the CSS's
    own icons (the select arrow, the checkbox tick).
    """
    static_origin = [origin] if (origin := origin_of(static_url)) else []
    media_origin = [origin] if (origin := origin_of(media_url)) else []
    images = list(dict.fromkeys([SELF, "data:", *static_origin, *media_origin]))
    return {
        "DIRECTIVES": {
            "default-src": [SELF],
            "script-src": [SELF, *static_origin],
            "style-src": [SELF, *static_origin],
            "img-src": images,
            "font-src": [SELF, *static_origin],
            "connect-src": [SELF],
            "object-src": [NONE],
            "base-uri": [SELF],
            "form-action": [SELF],
            "frame-ancestors": [NONE],
        }
    }


def source_hash(text: str) -> str:
    """The CSP source expression (``'sha256-…'``) allowing an inline block whose body is ``text``."""
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def _template_engine() -> Engine:
    engine: Engine = engines["django"].engine  # type: ignore[attr-defined]
    return engine


@cache
def inline_style_hashes(template_name: str) -> tuple[str, ...]:
    """The hashes of the ``<style>`` blocks of a template, as the template renders them.

    Only for blocks whose body is constant (comments allowed): each body is rendered on its
    own with an empty context, which drops ``{# #}`` comments exactly as the page does.
    """
    engine = _template_engine()
    source = engine.find_template(template_name)[0].source
    return tuple(source_hash(engine.from_string(body).render(Context())) for body in _STYLE_BLOCK.findall(source))


def policy_additions(path: str, status_code: int) -> dict[str, list[str]]:
    """What a response at ``path`` with ``status_code`` may have beyond the site's policy."""
    additions: dict[str, list[str]] = {}
    if status_code >= 500:
        additions.setdefault("style-src", []).extend(inline_style_hashes("500.html"))
    if path.startswith(ADMIN_PREFIX):
        additions.setdefault("style-src", []).extend(inline_style_hashes("admin/change_list.html"))
    if path.startswith(API_DOCS_PREFIX):
        # 'unsafe-inline' only works without hashes beside it: these pages get no hashes.
        additions["style-src"] = [UNSAFE_INLINE]
        additions["worker-src"] = [SELF, "blob:"]
    return additions


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the narrow additions of ``policy_additions``.

    Sits above WhiteNoise, so static files get the policy too (it matters for SVG), and
    above every view, so pages the page cache replays get it like freshly rendered ones.
    """

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        additions = policy_additions(request.path_info, response.status_code)
        if additions and not report_only:
            update = dict(parts.update or {})
            for directive, sources in additions.items():
                update[directive] = [*update.get(directive, []), *sources]
            parts.update = update
        return parts
