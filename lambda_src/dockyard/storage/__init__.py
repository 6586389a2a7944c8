"""Storage: bytes and metadata behind the contracts in `interfaces`, implemented on S3 (`s3`) and DynamoDB
(`dynamo`). Nothing here speaks HTTP."""
