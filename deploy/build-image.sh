#!/bin/sh
# Build deploy/Dockerfile without a Docker engine (buildah, daemonless) and run the demo
# inside the image. What this machine needed, and the measured result: docs/deploy.md
# ("Building the image without Docker").
#
#   apt-get install buildah runc debootstrap       # Debian 12
#   sh deploy/build-image.sh                        # as root
#
# No container registry is reachable here, so the base image is made from Debian's
# packages (debootstrap: Python 3.11 with venv and pip) and passed as PYTHON_IMAGE; with
# a registry, plain `buildah bud -f deploy/Dockerfile .` uses python:3.11-slim-bookworm.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/var/tmp/batchlake-image}
BASE=${BASE:-localhost/debian-python:3.11-bookworm}
IMAGE=${IMAGE:-localhost/batchlake:local}
EXTRAS=${EXTRAS:-serve,store,postgres,s3}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
# vfs works where overlay mounts are refused; crun fails on hybrid cgroups, runc does not.
BUILDAH="buildah --storage-driver ${STORAGE_DRIVER:-vfs}"
RUNTIME=${RUNTIME:-/usr/sbin/runc}
# A TLS-intercepting proxy's CA is in the host's bundle: lend it to RUN steps (pip).
CA=${CA:-/etc/ssl/certs/ca-certificates.crt}

elapsed() { echo "$(( $(date +%s) - $1 )) s"; }
mkdir -p "$WORK"

start=$(date +%s)
if ! $BUILDAH inspect --type image "$BASE" >/dev/null 2>&1; then
    rm -rf "$WORK/rootfs"
    debootstrap --variant=minbase \
        --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
        bookworm "$WORK/rootfs" "$MIRROR"
    container=$($BUILDAH from scratch)
    mountpoint=$($BUILDAH mount "$container")
    cp -a "$WORK/rootfs/." "$mountpoint/"
    $BUILDAH umount "$container"
    $BUILDAH config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --cmd python3 "$container"
    $BUILDAH commit --rm "$container" "$BASE"
    echo "base image $BASE: $(elapsed "$start")"
fi

start=$(date +%s)
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$WORK/pip.conf"
$BUILDAH bud --runtime "$RUNTIME" --network host --layers \
    --volume "$CA:/etc/ssl/certs/ca-certificates.crt:ro" \
    --volume "$WORK/pip.conf:/etc/pip.conf:ro" \
    --ignorefile "$REPO/deploy/Dockerfile.dockerignore" \
    --build-arg PYTHON_IMAGE="$BASE" --build-arg EXTRAS="$EXTRAS" \
    -f "$REPO/deploy/Dockerfile" -t "$IMAGE" "$REPO"
echo "image $IMAGE: $(elapsed "$start")"
$BUILDAH images "$IMAGE"

# The demo inside the image, as the image's user, with nothing mounted from the host.
start=$(date +%s)
container=$($BUILDAH from "$IMAGE")
trap '$BUILDAH rm "$container" >/dev/null' EXIT
$BUILDAH run --runtime "$RUNTIME" --network host "$container" -- sh -c '
    set -e
    echo "user: $(id -u):$(id -g)"
    batchlake --help >/dev/null && chinook-store --help >/dev/null
    cd /tmp && batchlake demo --dir /tmp/demo-lake --invoices 500
    batchlake query -p /tmp/demo-lake --format csv \
        "SELECT month, total_amount FROM refined.sales_by_month ORDER BY month DESC LIMIT 3"
'
echo "demo in the image: $(elapsed "$start")"
