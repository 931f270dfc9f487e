"""CloudFront in front of everything: the static and media buckets, and the ALB for the app.

The behaviours do what `make up`'s nginx does (docs/http-cache.md, docs/edge.md): the origin's
`Cache-Control` decides (`s-maxage`, `stale-while-revalidate`, `stale-if-error`), nothing without
it is cached (minimum and default TTL 0 for the app), hashed static and uploaded media are kept a
year, and the cart, checkout, accounts and admin are never cached.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cloudshelf_infra.network_stack import NetworkStack
from cloudshelf_infra.phases import Phase

ONE_YEAR = Duration.days(365)
# Static and media objects without their own Cache-Control (the app's storages set it on every
# upload, docs/static-and-media.md): a day, so a missed header cannot pin old bytes for a year.
ASSET_DEFAULT_TTL = Duration.days(1)
# Cookies that make a request personal (nginx's $is_personal_request in `make up`): in the pages'
# cache key, so a visitor with a session or a flash message never gets the shared anonymous copy
# (answers to them are private, so CloudFront never stores them either). Anonymous visitors, who
# carry neither, still share one copy per URL.
PERSONAL_COOKIES = ("sessionid", "messages")
# Cookies the origin needs but that do not make a page personal: forwarded, outside the key.
# csrftoken for forms; read_primary pins a visitor to the primary after a write (db_router).
FORWARDED_COOKIES = ("csrftoken", "read_primary")
UNCACHED_PATHS = ("/cart*", "/checkout*", "/accounts/*", "/admin/*")

_PRICE_CLASSES = {
    "100": cloudfront.PriceClass.PRICE_CLASS_100,
    "200": cloudfront.PriceClass.PRICE_CLASS_200,
    "All": cloudfront.PriceClass.PRICE_CLASS_ALL,
}


class EdgeStack(Stack):
    """The static and media buckets and the CloudFront distribution (S3 via OAC, the ALB with a secret header)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        phase: Phase,
        network: NetworkStack,
        certificate_arn: str | None = None,
        domain_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.phase = phase
        durable = phase.name != "mvp"
        if phase.cloudfront_price_class not in _PRICE_CLASSES:
            raise ValueError(
                f"phase {phase.name}: unknown cloudfront_price_class {phase.cloudfront_price_class!r}"
                f" (choose one of {', '.join(_PRICE_CLASSES)})"
            )
        if bool(certificate_arn) != bool(domain_name):
            raise ValueError("certificate_arn and domain_name go together: give both or neither")

        self.static_bucket = _private_bucket(self, "StaticBucket", versioned=False, durable=durable)
        self.media_bucket = _private_bucket(self, "MediaBucket", versioned=True, durable=durable)
        # Standard logging (legacy, to S3) is off: CloudFront's own metrics and the app's logs
        # answer our questions; turn it on (a log bucket with ACLs) when a question needs it.

        static_origin = origins.S3BucketOrigin.with_origin_access_control(self.static_bucket)
        media_origin = origins.S3BucketOrigin.with_origin_access_control(self.media_bucket)
        # The internal ALB through a VPC origin: CloudFront -> ALB stays on AWS's network (plain HTTP
        # inside the VPC; TLS ends here at CloudFront), and the ALB has no public address at all.
        alb_origin = origins.VpcOrigin.with_application_load_balancer(
            network.alb,
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY,
            http_port=80,
            custom_headers={network.origin_verify_header: network.origin_verify_secret.secret_value.unsafe_unwrap()},
            read_timeout=Duration.seconds(30),
            keepalive_timeout=Duration.seconds(5),
        )

        self.assets_cache_policy = cloudfront.CachePolicy(
            self,
            "AssetsCachePolicy",
            comment="Static and media: the object's Cache-Control (a year for hashed names)",
            min_ttl=Duration.seconds(0),
            default_ttl=ASSET_DEFAULT_TTL,
            max_ttl=ONE_YEAR,
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )
        self.pages_cache_policy = cloudfront.CachePolicy(
            self,
            "PagesCachePolicy",
            comment="Pages: only what the origin's Cache-Control allows (s-maxage, stale-while-revalidate)",
            min_ttl=Duration.seconds(0),
            default_ttl=Duration.seconds(0),
            max_ttl=ONE_YEAR,
            query_string_behavior=cloudfront.CacheQueryStringBehavior.all(),
            # Host in the key and to the origin, as nginx does ($scheme://$host$request_uri): Django's
            # CSRF origin check and absolute URLs see the visitor's host, not the ALB's.
            header_behavior=cloudfront.CacheHeaderBehavior.allow_list("Host"),
            cookie_behavior=cloudfront.CacheCookieBehavior.allow_list(*PERSONAL_COOKIES),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )
        self.api_cache_policy = cloudfront.CachePolicy(
            self,
            "ApiCachePolicy",
            comment="API: nothing unless the origin says so; Authorization in the key",
            min_ttl=Duration.seconds(0),
            default_ttl=Duration.seconds(0),
            max_ttl=Duration.days(1),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.all(),
            # Authorization can only reach the origin through the cache key (CloudFront's rule), and a
            # partner's key is part of who is asking: either header keeps partners' answers apart.
            header_behavior=cloudfront.CacheHeaderBehavior.allow_list("Authorization", "X-API-Key", "Host"),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )
        self.pages_origin_request_policy = cloudfront.OriginRequestPolicy(
            self,
            "PagesOriginRequest",
            comment="Pages: the CSRF and read-your-writes cookies reach the origin, outside the cache key",
            cookie_behavior=cloudfront.OriginRequestCookieBehavior.allow_list(*FORWARDED_COOKIES),
            query_string_behavior=cloudfront.OriginRequestQueryStringBehavior.all(),
            # CloudFront revalidates expired copies itself (If-None-Match from the stored ETag);
            # Accept-Language stays out (no LocaleMiddleware: one language). CloudFront-Forwarded-Proto
            # is the visitor's scheme (the app's PROXY_SSL_HEADER): over CloudFront -> ALB in plain
            # HTTP the ALB's X-Forwarded-Proto says "http" for everyone.
            header_behavior=cloudfront.OriginRequestHeaderBehavior.allow_list(
                "Accept", "Referer", "CloudFront-Forwarded-Proto"
            ),
        )

        def app_behavior(
            cache_policy: cloudfront.ICachePolicy, request_policy: cloudfront.IOriginRequestPolicy
        ) -> cloudfront.BehaviorOptions:
            return cloudfront.BehaviorOptions(
                origin=alb_origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
                cache_policy=cache_policy,
                origin_request_policy=request_policy,
                compress=True,
            )

        def asset_behavior(origin: cloudfront.IOrigin) -> cloudfront.BehaviorOptions:
            return cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
                cache_policy=self.assets_cache_policy,
                compress=True,
            )

        # Every viewer header, and CloudFront's own (CloudFront-Forwarded-Proto, the visitor's scheme).
        uncached = app_behavior(
            cloudfront.CachePolicy.CACHING_DISABLED, cloudfront.OriginRequestPolicy.ALL_VIEWER_AND_CLOUDFRONT_2022
        )
        additional: dict[str, cloudfront.BehaviorOptions] = {
            "/static/*": asset_behavior(static_origin),
            "/media/*": asset_behavior(media_origin),
            # Every viewer header reaches the API (Idempotency-Key on orders, Content-Type, ...): its
            # answers are kept only when the origin says so, and the key above decides whose they are.
            "/api/*": app_behavior(
                self.api_cache_policy, cloudfront.OriginRequestPolicy.ALL_VIEWER_AND_CLOUDFRONT_2022
            ),
        }
        additional.update(dict.fromkeys(UNCACHED_PATHS, uncached))

        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn) if certificate_arn else None
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"CloudShelf {phase.name}",
            default_behavior=app_behavior(self.pages_cache_policy, self.pages_origin_request_policy),
            additional_behaviors=additional,
            price_class=_PRICE_CLASSES[phase.cloudfront_price_class],
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            # TLS 1.2+ needs our own certificate: the default *.cloudfront.net one is fixed at TLSv1
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None,
            certificate=certificate,
            domain_names=[domain_name] if domain_name else None,
            enable_ipv6=True,
        )


def _private_bucket(scope: Construct, construct_id: str, *, versioned: bool, durable: bool) -> s3.Bucket:
    """A bucket only CloudFront (OAC) and the app's roles read: encrypted, no public access, TLS only."""
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=versioned,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=RemovalPolicy.RETAIN if durable else RemovalPolicy.DESTROY,
        auto_delete_objects=False,
    )
