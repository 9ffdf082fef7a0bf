#!/bin/sh
# Fill the store's database with a generated Chinook store, once: when its tables are
# already there (the stack was started before, the shop has sold since) nothing changes.
set -eu
: "${CHINOOK_STORE_DB:?set CHINOOK_STORE_DB to the store database URL}"
if python - <<'PY'
import os
import sys

from sqlalchemy import inspect

from chinook_store.db import make_engine

sys.exit(0 if "Invoice" in inspect(make_engine(os.environ["CHINOOK_STORE_DB"])).get_table_names() else 1)
PY
then
    echo "the store database already holds Chinook; nothing to do"
    exit 0
fi
python - <<'PY'
import os
from pathlib import Path

from batchlake.demo.generator import generate

generate(Path("/tmp/chinook.sqlite"), invoices=int(os.environ.get("STORE_INVOICES", "2000")))
PY
chinook-store load --from sqlite:////tmp/chinook.sqlite --db "${CHINOOK_STORE_DB}"
rm -f /tmp/chinook.sqlite
