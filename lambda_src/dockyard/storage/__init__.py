"""Storage: S3 bytes and DynamoDB metadata. Nothing here speaks HTTP."""
