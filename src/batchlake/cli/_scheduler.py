"""`batchlake scheduler`."""
