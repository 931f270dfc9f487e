"""Static files and media on S3 behind CloudFront, against the moto server (scripts/moto.sh)
reached through AWS_ENDPOINT_URL; and the same hashed static files served locally."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.templatetags.static import static

from tests.factories import BookFactory

ROOT = Path(__file__).resolve().parents[2]
IMMUTABLE = "public, max-age=31536000, immutable"
CDN = "cdn.cloudshelf.test"
HASHED = re.compile(r"\.[0-9a-f]{12}\.[a-z]+$")
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def s3():
    if not os.environ.get("AWS_ENDPOINT_URL"):
        pytest.fail("AWS_ENDPOINT_URL is not set: run the tests with `make pytest` (TEST_ENV starts moto)")
    return boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")


@pytest.fixture
def bucket(s3):
    name = f"cloudshelf-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def aws_on(settings, bucket):
    """The AWS settings a deployment sets, for this test only (the settings module's S3 branch)."""
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_MEDIA_BUCKET_NAME = bucket
    settings.CLOUDFRONT_DOMAIN = CDN
    settings.STATIC_URL = f"https://{CDN}/static/"
    settings.MEDIA_URL = f"https://{CDN}/media/"
    settings.STORAGES = {
        "default": {"BACKEND": "cloudshelf.edge.storages.S3MediaStorage"},
        "staticfiles": {"BACKEND": "cloudshelf.edge.storages.S3ManifestStaticStorage"},
    }
    # The project's own static files (4) rather than every app's (~170): the same code path, faster.
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    return bucket


def objects(s3, bucket: str) -> dict[str, dict]:
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: s3.head_object(Bucket=bucket, Key=key) for key in keys}


def test_collectstatic_uploads_hashed_names_immutable_and_the_rest_briefly(s3, aws_on, settings):
    call_command("collectstatic", "--no-input", verbosity=0)

    stored = objects(s3, aws_on)
    hashed = {key: head for key, head in stored.items() if HASHED.search(key)}
    unhashed = {key: head for key, head in stored.items() if key not in hashed}
    assert sorted(unhashed) == [
        "static/css/site.css",
        "static/favicon.svg",
        "static/js/rum.js",
        "static/js/search.js",
        "static/js/site.js",
        "static/staticfiles.json",
    ]
    assert len(hashed) == 5
    assert {head["CacheControl"] for head in hashed.values()} == {IMMUTABLE}
    assert {head["CacheControl"] for head in unhashed.values()} == {
        f"public, max-age={settings.STATIC_UNHASHED_MAX_AGE}"
    }
    assert stored["static/css/site.css"]["ContentType"].startswith("text/css")
    assert stored["static/favicon.svg"]["ContentType"] == "image/svg+xml"


def test_the_manifest_in_the_bucket_names_every_hashed_file(s3, aws_on):
    call_command("collectstatic", "--no-input", verbosity=0)

    manifest = json.loads(s3.get_object(Bucket=aws_on, Key="static/staticfiles.json")["Body"].read())
    assert set(manifest["paths"]) == {"css/site.css", "favicon.svg", "js/rum.js", "js/search.js", "js/site.js"}
    for hashed_name in manifest["paths"].values():
        s3.head_object(Bucket=aws_on, Key=f"static/{hashed_name}")  # raises when missing
    assert static("css/site.css") == f"https://{CDN}/static/{manifest['paths']['css/site.css']}"


def test_collectstatic_twice_uploads_the_same_names(s3, aws_on):
    call_command("collectstatic", "--no-input", verbosity=0)
    first = {key: head["ETag"] for key, head in objects(s3, aws_on).items()}
    call_command("collectstatic", "--no-input", verbosity=0)

    assert {key: head["ETag"] for key, head in objects(s3, aws_on).items()} == first


def test_pages_link_static_files_through_the_cloudfront_domain(client, db, s3, aws_on):
    call_command("collectstatic", "--no-input", verbosity=0)
    manifest = json.loads(s3.get_object(Bucket=aws_on, Key="static/staticfiles.json")["Body"].read())

    page = client.get("/").content.decode()

    for name in ("css/site.css", "js/site.js", "favicon.svg"):
        assert f'"https://{CDN}/static/{manifest["paths"][name]}"' in page
    assert '"/static/' not in page


def test_an_uploaded_cover_lands_in_s3_under_a_name_of_its_own_with_immutable_caching(s3, aws_on, db):
    book = BookFactory()
    book.cover_image.save("dune.png", ContentFile(PNG))
    other = BookFactory()
    other.cover_image.save("dune.png", ContentFile(PNG))

    key = f"media/{book.cover_image.name}"
    head = s3.head_object(Bucket=aws_on, Key=key)
    assert re.fullmatch(r"covers/[a-z0-9]{12}/dune\.png", book.cover_image.name)
    assert other.cover_image.name != book.cover_image.name
    assert head["CacheControl"] == IMMUTABLE
    assert head["ContentType"] == "image/png"
    assert s3.get_object(Bucket=aws_on, Key=key)["Body"].read() == PNG
    assert book.cover_image.url == f"https://{CDN}/media/{book.cover_image.name}"


def test_media_outside_covers_is_kept_briefly_on_s3(s3, aws_on, settings):
    from django.core.files.storage import default_storage

    name = default_storage.save("exports/catalog.csv", ContentFile(b"isbn13,title\n"))

    head = s3.head_object(Bucket=aws_on, Key=f"media/{name}")
    assert head["CacheControl"] == f"public, max-age={settings.STATIC_UNHASHED_MAX_AGE}"


def test_without_cloudfront_pages_link_the_bucket_directly(s3, aws_on, settings):
    settings.CLOUDFRONT_DOMAIN = ""
    call_command("collectstatic", "--no-input", verbosity=0)

    url = static("css/site.css")

    assert url.startswith(f"{os.environ['AWS_ENDPOINT_URL']}/{aws_on}/static/css/site.")
    # Plain public URLs, the same on every render (a signed one would defeat every cache).
    assert "Signature" not in url
    assert "X-Amz" not in url


@pytest.fixture
def local_hashed_static(settings, tmp_path, db):
    """The embedded default's and ``make up``'s static files: WhiteNoise over collectstatic's output."""
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STATIC_URL = "/static/"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.WHITENOISE_AUTOREFRESH = False
    settings.WHITENOISE_USE_FINDERS = False
    call_command("collectstatic", "--no-input", verbosity=0)


def test_hashed_static_files_are_served_locally_with_the_same_headers_as_s3(client, local_hashed_static):
    response = client.get(static("css/site.css"))
    response.close()

    assert HASHED.search(static("css/site.css"))
    assert response.status_code == 200
    assert response["Cache-Control"] == IMMUTABLE
    assert response["Content-Type"].startswith("text/css")


def test_unhashed_static_names_are_served_locally_but_kept_briefly(client, local_hashed_static, settings):
    response = client.get("/static/css/site.css")
    response.close()

    assert response.status_code == 200
    assert response["Cache-Control"] == f"public, max-age={settings.STATIC_UNHASHED_MAX_AGE}"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CLOUDFRONT_DOMAIN", "https://cdn.example.com/", "host name"),
        ("AWS_ENDPOINT_URL", "127.0.0.1:55000", "http(s) URL"),
        ("CLOUDFRONT_INVALIDATION_BATCH", "3001", "3,000"),
        ("CLOUDFRONT_INVALIDATION_INTERVAL", "-1", "below the minimum"),
    ],
)
def test_bad_aws_settings_stop_the_process_with_a_message(variable, value, message):
    environment = {**os.environ, variable: value}
    result = subprocess.run(
        [sys.executable, "-c", "import cloudshelf.settings"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "ImproperlyConfiguredEnv" in result.stderr
    assert variable in result.stderr
    assert message in result.stderr
