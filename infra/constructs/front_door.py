"""An optional custom domain in front of the registry: CloudFront or API Gateway, an ACM certificate and a
Route 53 alias record."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from constructs import Construct

from dockyard.resources import ORIGIN_HEADER
from infra.config import StackOptions
from infra.constructs.registry_function import RegistryFunction


class FrontDoor(Construct):
    """`self.target` is what the Route 53 alias points at."""

    def __init__(self, scope: Construct, construct_id: str, registry: RegistryFunction, options: StackOptions):
        super().__init__(scope, construct_id)
        certificate = acm.Certificate.from_certificate_arn(self, "Certificate", options.certificate_arn)
        if options.front_door == "cloudfront":
            target = self._cloudfront(registry, options, certificate)
        else:
            target = self._api_gateway(registry, options, certificate)
        if options.hosted_zone_id:
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=options.hosted_zone_id, zone_name=options.hosted_zone_name)
            route53.ARecord(self, "Alias", zone=zone, record_name=options.domain_name,
                            target=route53.RecordTarget.from_alias(target))

    def _cloudfront(self, registry, options, certificate):
        """Nothing cached (every answer depends on auth and on current tags); everything forwarded but Host,
        plus the origin header that the function requires (origin access control cannot work: see config)."""
        origin = origins.FunctionUrlOrigin(registry.url, read_timeout=Duration.seconds(60), custom_headers={
            ORIGIN_HEADER: registry.origin_secret.secret_value.unsafe_unwrap()})  # a dynamic reference
        self.distribution = cloudfront.Distribution(
            self, "Distribution",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            ),
            domain_names=[options.domain_name],
            certificate=certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            comment="Dockyard registry",
        )
        return targets.CloudFrontTarget(self.distribution)

    def _api_gateway(self, registry, options, certificate):
        domain = apigw.DomainName(self, "Domain", domain_name=options.domain_name, certificate=certificate,
                                  security_policy=apigw.SecurityPolicy.TLS_1_2)
        self.api = apigw.HttpApi(
            self, "HttpApi",
            default_integration=integrations.HttpLambdaIntegration("Registry", registry.function),
            default_authorizer=authorizers.HttpIamAuthorizer() if options.url_auth == "AWS_IAM" else None,
            default_domain_mapping=apigw.DomainMappingOptions(domain_name=domain),
            disable_execute_api_endpoint=True,
        )
        access_logs = logs.LogGroup(self, "AccessLogs", retention=registry.log_group_retention,
                                    removal_policy=RemovalPolicy.RETAIN if options.retain else RemovalPolicy.DESTROY)
        stage = self.api.default_stage.node.default_child
        stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn,
            format='{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
                   '"method":"$context.httpMethod","path":"$context.path","status":"$context.status",'
                   '"bytes":"$context.responseLength","latencyMs":"$context.responseLatency"}',
        )
        return targets.ApiGatewayv2DomainProperties(domain.regional_domain_name, domain.regional_hosted_zone_id)
