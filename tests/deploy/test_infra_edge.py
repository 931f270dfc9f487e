"""The Edge stack: private buckets behind OAC, and CloudFront behaving like `make up`'s nginx."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from cloudshelf_infra.edge_stack import EdgeStack
from cloudshelf_infra.network_stack import NetworkStack
from cloudshelf_infra.phases import MVP, PHASES

PHASE_NAMES = list(PHASES)
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # AWS managed CachingDisabled
# AWS managed AllViewerAndCloudFrontHeaders-2022-06: every viewer header and CloudFront's own
# (CloudFront-Forwarded-Proto, the visitor's scheme, which the app reads as PROXY_SSL_HEADER).
ALL_VIEWER_AND_CLOUDFRONT = "33f36d7e-f396-46d9-90e0-52428a34d9dc"
ONE_YEAR = 365 * 24 * 3600


def _distribution(template):
    (distribution,) = template.find_resources("AWS::CloudFront::Distribution").values()
    return distribution["Properties"]["DistributionConfig"]


def _behaviors(template):
    return {behavior["PathPattern"]: behavior for behavior in _distribution(template)["CacheBehaviors"]}


def _cache_policy(template, behavior):
    policy_id = behavior["CachePolicyId"]
    return template.to_json()["Resources"][policy_id["Ref"]]["Properties"]["CachePolicyConfig"]


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_buckets_are_encrypted_private_and_tls_only_with_versioned_media(cdk_template, phase):
    template = cdk_template(phase, "edge")
    buckets = template.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "AES256"
        }
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        versioned = props.get("VersioningConfiguration") == {"Status": "Enabled"}
        assert versioned is name.startswith("MediaBucket")
        assert bucket["DeletionPolicy"] == ("Delete" if phase == "mvp" else "Retain")
    for policy in template.find_resources("AWS::S3::BucketPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert {"Bool": {"aws:SecureTransport": "false"}} in [
            s.get("Condition") for s in statements if s["Effect"] == "Deny"
        ]


def test_s3_origins_use_origin_access_control(cdk_template):
    template = cdk_template("mvp", "edge")
    template.resource_count_is("AWS::CloudFront::OriginAccessControl", 2)
    s3_origins = [o for o in _distribution(template)["Origins"] if "S3OriginConfig" in o]
    assert len(s3_origins) == 2
    assert all("OriginAccessControlId" in origin for origin in s3_origins)


def test_the_alb_is_reached_through_a_vpc_origin_with_the_origin_verify_header(cdk_template):
    """CloudFront -> ALB never crosses the internet: a VPC origin to the internal ALB."""
    template = cdk_template("growth", "edge")
    (alb_origin,) = [o for o in _distribution(template)["Origins"] if "VpcOriginConfig" in o]
    (header,) = alb_origin["OriginCustomHeaders"]
    assert header["HeaderName"] == "X-Origin-Verify"
    assert "{{resolve:secretsmanager:" in json.dumps(header["HeaderValue"])
    assert "CustomOriginConfig" not in alb_origin
    (vpc_origin,) = template.find_resources("AWS::CloudFront::VpcOrigin").values()
    endpoint = vpc_origin["Properties"]["VpcOriginEndpointConfig"]
    assert (endpoint["OriginProtocolPolicy"], endpoint["HTTPPort"]) == ("http-only", 80)
    assert "CloudShelf-growth-Network" in json.dumps(endpoint["Arn"])  # the Network stack's ALB


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_distribution_price_class_http3_and_compression(cdk_template, phase):
    config = _distribution(cdk_template(phase, "edge"))
    expected = {"100": "PriceClass_100", "All": "PriceClass_All"}[PHASES[phase].cloudfront_price_class]
    assert config["PriceClass"] == expected
    assert config["HttpVersion"] == "http2and3"
    assert config["DefaultCacheBehavior"]["Compress"] is True
    assert all(behavior["Compress"] is True for behavior in config["CacheBehaviors"])
    assert all(b["ViewerProtocolPolicy"] == "redirect-to-https" for b in config["CacheBehaviors"])


def test_behaviours_cover_assets_api_and_the_never_cached_paths(cdk_template):
    assert list(_behaviors(cdk_template("mvp", "edge"))) == [
        "/static/*",
        "/media/*",
        "/api/*",
        "/cart*",
        "/checkout*",
        "/accounts/*",
        "/admin/*",
    ]


@pytest.mark.parametrize("path", ["/static/*", "/media/*"])
def test_static_and_media_honour_the_objects_cache_control_up_to_a_year(cdk_template, path):
    template = cdk_template("mvp", "edge")
    behavior = _behaviors(template)[path]
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    policy = _cache_policy(template, behavior)
    assert (policy["MinTTL"], policy["DefaultTTL"], policy["MaxTTL"]) == (0, 86400, ONE_YEAR)
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "none"}


def test_pages_are_cached_only_when_the_origin_says_so_keyed_by_host_and_query(cdk_template):
    template = cdk_template("mvp", "edge")
    default = _distribution(template)["DefaultCacheBehavior"]
    policy = _cache_policy(template, default)
    assert (policy["MinTTL"], policy["DefaultTTL"], policy["MaxTTL"]) == (0, 0, ONE_YEAR)
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    assert key["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": ["Host"]}
    assert key["EnableAcceptEncodingBrotli"] is True
    assert key["EnableAcceptEncodingGzip"] is True


def test_a_session_or_a_flash_message_keeps_a_visitor_off_the_shared_page(cdk_template):
    """As nginx's $is_personal_request: sessionid and messages are in the pages' key, so a visitor
    carrying either never gets the anonymous copy (and the app's private answers are never kept)."""
    template = cdk_template("mvp", "edge")
    default = _distribution(template)["DefaultCacheBehavior"]
    key = _cache_policy(template, default)["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["CookiesConfig"] == {"CookieBehavior": "whitelist", "Cookies": ["sessionid", "messages"]}
    policy = template.to_json()["Resources"][default["OriginRequestPolicyId"]["Ref"]]["Properties"]
    cookies = policy["OriginRequestPolicyConfig"]["CookiesConfig"]
    assert cookies == {"CookieBehavior": "whitelist", "Cookies": ["csrftoken", "read_primary"]}


def test_pages_and_the_api_tell_the_origin_the_visitors_scheme(cdk_template):
    """The app trusts CloudFront-Forwarded-Proto (PROXY_SSL_HEADER): over CloudFront -> ALB in plain
    HTTP the ALB's X-Forwarded-Proto says "http" and HTTPS=1 would redirect forever."""
    template = cdk_template("mvp", "edge")
    default = _distribution(template)["DefaultCacheBehavior"]
    policy = template.to_json()["Resources"][default["OriginRequestPolicyId"]["Ref"]]["Properties"]
    assert "CloudFront-Forwarded-Proto" in policy["OriginRequestPolicyConfig"]["HeadersConfig"]["Headers"]
    assert _behaviors(template)["/api/*"]["OriginRequestPolicyId"] == ALL_VIEWER_AND_CLOUDFRONT


def test_the_api_gets_every_header_and_keys_partners_apart(cdk_template):
    """Orders need Idempotency-Key, partners authenticate with Authorization or X-API-Key."""
    template = cdk_template("mvp", "edge")
    behavior = _behaviors(template)["/api/*"]
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_AND_CLOUDFRONT  # Idempotency-Key, Content-Type, ...
    headers = _cache_policy(template, behavior)["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]
    assert headers == {"HeaderBehavior": "whitelist", "Headers": ["Authorization", "X-API-Key", "Host"]}


def test_api_is_not_cached_unless_the_origin_says_so_and_keys_authorization(cdk_template):
    template = cdk_template("mvp", "edge")
    policy = _cache_policy(template, _behaviors(template)["/api/*"])
    assert (policy["MinTTL"], policy["DefaultTTL"]) == (0, 0)
    headers = policy["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]
    assert headers == {"HeaderBehavior": "whitelist", "Headers": ["Authorization", "X-API-Key", "Host"]}


@pytest.mark.parametrize("path", ["/cart*", "/checkout*", "/accounts/*", "/admin/*"])
def test_cart_checkout_accounts_and_admin_are_never_cached(cdk_template, path):
    behavior = _behaviors(cdk_template("growth", "edge"))[path]
    assert behavior["CachePolicyId"] == CACHING_DISABLED
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_AND_CLOUDFRONT
    assert "POST" in behavior["AllowedMethods"]


def test_no_response_headers_policy_overrides_the_apps_security_headers(cdk_template):
    template = cdk_template("mvp", "edge")
    template.resource_count_is("AWS::CloudFront::ResponseHeadersPolicy", 0)
    assert "ResponseHeadersPolicyId" not in _distribution(template)["DefaultCacheBehavior"]


def _edge_with(**kwargs):
    app = cdk.App()
    network = NetworkStack(app, "N", phase=MVP)
    return EdgeStack(app, "E", phase=MVP, network=network, **kwargs)


def test_with_a_certificate_and_domain_cloudfront_serves_tls_1_2_under_the_alias():
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    template = Template.from_stack(_edge_with(certificate_arn=arn, domain_name="shop.example.com"))
    template.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "Aliases": ["shop.example.com"],
                    "ViewerCertificate": {
                        "AcmCertificateArn": arn,
                        "MinimumProtocolVersion": "TLSv1.2_2021",
                        "SslSupportMethod": "sni-only",
                    },
                }
            )
        },
    )


@pytest.mark.parametrize(
    "kwargs",
    [{"certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x"}, {"domain_name": "shop.example.com"}],
)
def test_certificate_without_domain_or_domain_without_certificate_is_refused(kwargs):
    with pytest.raises(ValueError, match="certificate_arn and domain_name go together"):
        _edge_with(**kwargs)
