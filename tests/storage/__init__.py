"""Photo storage backends against a real server (SeaweedFS for S3)."""
