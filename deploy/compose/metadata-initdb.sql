-- Run once by the postgres image when metadata-db's volume is new: the Iceberg catalog
-- gets its own database beside batchlake's metadata database (POSTGRES_DB).
CREATE DATABASE batchlake_catalog OWNER batchlake;
