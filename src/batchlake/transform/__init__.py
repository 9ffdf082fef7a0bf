"""Transform: from raw batches and tables to trusted and refined Iceberg tables.

- `models`: SQL models and Python steps of a project, their dependencies (sqlglot) and the DAG;
- `python_steps`: calling a Python step and writing its outputs;
- `quality`: data-quality checks run on a result before it is committed;
- `promote`: the one path that commits a result (skip, keep, or replace in one snapshot).
"""
