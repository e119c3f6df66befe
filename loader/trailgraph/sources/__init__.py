"""Where CloudTrail records come from: files, S3, the LookupEvents API."""
