#!/bin/sh
# The lake's bucket and a user for batchlake with read-write access (idempotent).
set -eu
mc alias set lake http://minio:9000 "${MINIO_ROOT_USER}" "${MINIO_ROOT_PASSWORD}"
mc mb --ignore-existing "lake/${LAKE_BUCKET}"
mc admin user add lake "${LAKE_S3_KEY_ID}" "${LAKE_S3_SECRET}"
mc admin policy attach lake readwrite --user "${LAKE_S3_KEY_ID}" 2>/dev/null \
    || echo "policy readwrite already attached to ${LAKE_S3_KEY_ID}"
