"""`batchlake doctor`."""
