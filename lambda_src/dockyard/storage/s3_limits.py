"""S3's limits, declared once (every module that chooses a part size or an object size reads them here)."""

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB  # every multipart part but the last
MAX_PARTS = 10_000  # parts per multipart upload
MAX_PUT_SIZE = 5 * 1024 * MIB  # a single PUT, and a single part
MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MIB  # an object assembled from parts
