"""The DynamoDB implementations of the metadata aggregates, one module each, over one table helper."""
