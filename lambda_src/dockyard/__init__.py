"""Dockyard: a serverless, pay-per-pull private OCI registry on AWS Lambda, S3 and DynamoDB."""

__version__ = "0.1.0"
