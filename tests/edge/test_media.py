"""Uploaded media served from MEDIA_ROOT (cloudshelf.edge.media): in-process, through the
production-shaped gunicorn (DEBUG off), and on the embedded default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.http import http_date

from cloudshelf.edge.media import media_urlpatterns
from tests.edge.conftest import fetch

ROOT = Path(__file__).resolve().parents[2]
IMMUTABLE = "public, max-age=31536000, immutable"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def media_root(settings, tmp_path, db):
    root = tmp_path / "media"
    (root / "covers" / "k3j9x2m1q8zd").mkdir(parents=True)
    (root / "covers" / "k3j9x2m1q8zd" / "dune.png").write_bytes(PNG)
    (root / "notes.txt").write_text("plain words\n")
    settings.MEDIA_ROOT = root
    settings.DEBUG = False
    return root


def test_a_cover_is_served_with_its_type_length_and_immutable_caching(client, media_root):
    response = client.get("/media/covers/k3j9x2m1q8zd/dune.png")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Length"] == str(len(PNG))
    assert response["Cache-Control"] == IMMUTABLE
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in response


def test_media_outside_covers_may_change_so_it_is_kept_briefly(client, media_root, settings):
    response = client.get("/media/notes.txt")
    response.close()

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response["Cache-Control"] == f"public, max-age={settings.STATIC_UNHASHED_MAX_AGE}"


def test_etag_and_last_modified_come_from_the_file_and_revalidation_answers_304(client, media_root):
    path = media_root / "covers" / "k3j9x2m1q8zd" / "dune.png"
    stat = path.stat()
    first = client.get("/media/covers/k3j9x2m1q8zd/dune.png")
    first.close()

    assert first["ETag"] == f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    assert first["Last-Modified"] == http_date(int(stat.st_mtime))
    by_etag = client.get("/media/covers/k3j9x2m1q8zd/dune.png", HTTP_IF_NONE_MATCH=first["ETag"])
    assert by_etag.status_code == 304
    assert by_etag.content == b""
    assert by_etag["Cache-Control"] == IMMUTABLE
    by_date = client.get("/media/covers/k3j9x2m1q8zd/dune.png", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert by_date.status_code == 304
    stale = client.get("/media/covers/k3j9x2m1q8zd/dune.png", HTTP_IF_NONE_MATCH='"something-else"')
    assert stale.status_code == 200
    stale.close()


def test_head_answers_the_headers_of_get_without_a_body(client, media_root):
    response = client.head("/media/covers/k3j9x2m1q8zd/dune.png")

    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Length"] == str(len(PNG))
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == IMMUTABLE
    assert response["ETag"]


def test_writes_are_refused(client, media_root):
    response = client.post("/media/covers/k3j9x2m1q8zd/dune.png", data=b"x", content_type="image/png")

    assert response.status_code == 405
    assert (media_root / "covers" / "k3j9x2m1q8zd" / "dune.png").read_bytes() == PNG


def test_a_missing_file_is_a_404(client, media_root):
    assert client.get("/media/covers/k3j9x2m1q8zd/missing.png").status_code == 404
    assert client.get("/media/").status_code == 404
    assert client.get("/media/covers/").status_code == 404  # a directory


@pytest.mark.parametrize(
    "url",
    [
        "/media/../secret.txt",
        "/media/covers/../../secret.txt",
        "/media/covers/%2e%2e/%2e%2e/secret.txt",
        "/media/%2e%2e%2fsecret.txt",
        "/media//etc/passwd",
        "/media/%2Fetc%2Fpasswd",
        "/media/covers/k3j9x2m1q8zd/dune.png%00.txt",
        "/media/covers\\..\\..\\secret.txt",
        "/media/.hidden",
        "/media/covers/./k3j9x2m1q8zd/dune.png",
        "/media/" + "a/" * 600 + "b.png",
    ],
)
def test_paths_that_leave_media_root_or_are_malformed_are_404(client, media_root, url):
    (media_root.parent / "secret.txt").write_text("do not serve")
    (media_root / ".hidden").write_text("do not serve")

    response = client.get(url)

    assert response.status_code == 404
    assert b"do not serve" not in response.content


def test_a_symlink_that_leads_out_of_media_root_is_a_404(client, media_root):
    (media_root.parent / "secret.txt").write_text("do not serve")
    (media_root / "covers" / "link.txt").symlink_to(media_root.parent / "secret.txt")
    (media_root / "covers" / "linked-dir").symlink_to(media_root.parent, target_is_directory=True)

    assert client.get("/media/covers/link.txt").status_code == 404
    assert client.get("/media/covers/linked-dir/secret.txt").status_code == 404


def test_a_symlink_inside_media_root_is_followed(client, media_root):
    (media_root / "covers" / "alias.png").symlink_to(media_root / "covers" / "k3j9x2m1q8zd" / "dune.png")

    response = client.get("/media/covers/alias.png")
    response.close()

    assert response.status_code == 200


def test_an_uploaded_file_gets_a_name_of_its_own_and_is_served(client, media_root):
    first = default_storage.save(default_storage.generate_filename("covers/dune.png"), ContentFile(PNG))
    second = default_storage.save(default_storage.generate_filename("covers/dune.png"), ContentFile(PNG[:-1]))

    assert first != second
    assert first.startswith("covers/")
    assert first.endswith("/dune.png")
    assert default_storage.url(first) == f"/media/{first}"
    response = client.get(default_storage.url(first))
    response.close()
    assert response.status_code == 200
    assert response["Cache-Control"] == IMMUTABLE


def test_a_name_saved_directly_is_kept_as_it_is(media_root):
    """Content-addressed names (the cover fetcher's) must stay content-addressed."""
    name = default_storage.save("covers/9780441013593/320w-0123456789abcdef0123.webp", ContentFile(b"webp"))

    assert name == "covers/9780441013593/320w-0123456789abcdef0123.webp"


def test_with_media_on_s3_this_origin_serves_none_of_media_root(client, media_root, settings):
    settings.MEDIA_URL = "https://cdn.cloudshelf.test/media/"

    assert client.get("/media/covers/k3j9x2m1q8zd/dune.png").status_code == 404


def test_the_view_is_mounted_at_the_path_of_media_url(settings):
    settings.MEDIA_URL = "https://cdn.cloudshelf.test/uploads/"
    assert media_urlpatterns()[0].pattern.match("uploads/covers/x.png")
    settings.MEDIA_URL = "/"
    assert media_urlpatterns() == []


def test_the_production_shaped_gunicorn_serves_media_with_debug_off(gunicorn_server, collected_static):
    cover = collected_static / "media" / "covers" / "t0gunicornt0" / "dune.png"
    cover.parent.mkdir(parents=True, exist_ok=True)
    cover.write_bytes(PNG)

    response = fetch(f"{gunicorn_server.url}/media/covers/t0gunicornt0/dune.png")
    head = fetch(f"{gunicorn_server.url}/media/covers/t0gunicornt0/dune.png", method="HEAD")
    escape = fetch(f"{gunicorn_server.url}/media/covers/..%2f..%2f..%2fmanage.py")

    assert response.status == 200
    assert response.body == PNG
    assert response.header("Cache-Control") == IMMUTABLE
    assert response.header("Content-Type") == "image/png"
    assert head.status == 200
    assert head.body == b""
    assert head.header("Content-Length") == str(len(PNG))
    assert escape.status == 404


@pytest.mark.slow
def test_the_embedded_default_serves_media_with_debug_off(tmp_path):
    cover = tmp_path / "media" / "covers" / "t0embeddedt0" / "dune.png"
    cover.parent.mkdir(parents=True)
    cover.write_bytes(PNG)
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "OPENSEARCH_URL", "SECRET_KEY"}
    }
    environment |= {"DATA_DIR": str(tmp_path), "DEBUG": "0", "DJANGO_SETTINGS_MODULE": "cloudshelf.settings"}
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "response = Client(HTTP_HOST='127.0.0.1').get('/media/covers/t0embeddedt0/dune.png')\n"
        "print(response.status_code, response['Cache-Control'], len(b''.join(response.streaming_content)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == f"200 {IMMUTABLE} {len(PNG)}"
