"""Orchestration: the runner (DAG order, concurrency, retries, timeouts, the run lock,
run records), its results, the scheduler and alerts."""
