#!/bin/sh
# The compose stack's commands, run natively against local services instead of
# containers: PostgreSQL on 127.0.0.1:5432 (trust auth) for the store, the metadata and the
# catalog, and a moto S3 server on loopback in MinIO's place. It checks what no container
# engine is needed for: deploy/project/batchlake.toml with the compose environment, the
# store seed script, `batchlake doctor`, `run`, `scheduler --once`, and the healthcheck
# URLs of `serve`, the scheduler's metrics and `chinook-store serve`.
#
#   sh deploy/smoke-native.sh            # with batchlake[serve,store,postgres,s3] and moto
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/batchlake-smoke.XXXXXX)
PG=${PG:-postgresql://postgres@127.0.0.1:5432}
SUFFIX=$$
STORE_DB=smoke_store_$SUFFIX META_DB=smoke_meta_$SUFFIX CATALOG_DB=smoke_catalog_$SUFFIX
pids=""
cleanup() {
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
    for db in "$STORE_DB" "$META_DB" "$CATALOG_DB"; do
        psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {  # URL [bearer key]: wait up to 60 s for 200
    python - "$@" <<'PY'
import sys, time, urllib.request
url = sys.argv[1]
headers = {"Authorization": f"Bearer {sys.argv[2]}"} if len(sys.argv) > 2 else {}
for _ in range(120):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            print(f"{url}: {r.status}")
            sys.exit(0)
    except Exception as exc:
        error = exc
        time.sleep(0.5)
sys.exit(f"{url}: {error}")
PY
}

for db in "$STORE_DB" "$META_DB" "$CATALOG_DB"; do psql "$PG/postgres" -qc "CREATE DATABASE $db"; done

# MinIO's place: a moto S3 server with the bucket minio-init would make.
S3_PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$S3_PORT" >"$WORK/moto.log" 2>&1 & pids="$pids $!"
wait_http "http://127.0.0.1:$S3_PORT/moto-api/"
python -c "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:$S3_PORT', aws_access_key_id='k', aws_secret_access_key='s', region_name='us-east-1').create_bucket(Bucket='lake')"

# store-seed, as in compose (twice: the second run must change nothing).
export CHINOOK_STORE_DB="$PG/$STORE_DB" STORE_INVOICES=300
sh "$REPO/deploy/compose/seed-store.sh"
sh "$REPO/deploy/compose/seed-store.sh" | grep -q "nothing to do"

# The project as the image holds it.
batchlake init --example chinook --no-data "$WORK/lake" >/dev/null
cp "$REPO/deploy/project/batchlake.toml" "$WORK/lake/batchlake.toml"
export BATCHLAKE_PROJECT="$WORK/lake" \
    BATCHLAKE_STORAGE_ROOT=s3://lake/chinook \
    BATCHLAKE_S3_ENDPOINT="http://127.0.0.1:$S3_PORT" \
    BATCHLAKE_S3_KEY_ID=k BATCHLAKE_S3_SECRET=s AWS_EC2_METADATA_DISABLED=true \
    BATCHLAKE_METADATA_URL="postgresql+psycopg://postgres@127.0.0.1:5432/$META_DB" \
    BATCHLAKE_CATALOG_URL="postgresql+psycopg://postgres@127.0.0.1:5432/$CATALOG_DB" \
    CHINOOK_URL="$PG/$STORE_DB" \
    BATCHLAKE_API_KEYS="reader:blk_smoke_reader,operator:blk_smoke_operator"

batchlake doctor
batchlake run --wait 600                                   # lake-bootstrap
batchlake scheduler --once                                 # the CronJob's command
batchlake query --format csv "SELECT count(*) AS invoices FROM trusted.invoices"

SERVE_PORT=$(free_port) METRICS_PORT=$(free_port) STORE_PORT=$(free_port)
batchlake serve --host 127.0.0.1 --port "$SERVE_PORT" >"$WORK/serve.log" 2>&1 & pids="$pids $!"
batchlake scheduler --metrics-port "$METRICS_PORT" >"$WORK/scheduler.log" 2>&1 & pids="$pids $!"
chinook-store serve --host 127.0.0.1 --port "$STORE_PORT" >"$WORK/store.log" 2>&1 & pids="$pids $!"
wait_http "http://127.0.0.1:$SERVE_PORT/api/v1/health"
wait_http "http://127.0.0.1:$SERVE_PORT/api/v1/ready"
wait_http "http://127.0.0.1:$SERVE_PORT/metrics" blk_smoke_reader
wait_http "http://127.0.0.1:$METRICS_PORT/metrics"
wait_http "http://127.0.0.1:$STORE_PORT/api/tracks"
echo "smoke test passed"
