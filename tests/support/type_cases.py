"""One column of every type per relational source, with the Arrow type and value it must
become in the raw zone: the data of docs/types.md, checked against the real servers by
tests/integration/test_capture_types.py and against the document by
tests/unit/test_types_doc.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Case:
    declared: str  # the column's type in the source's DDL, as docs/types.md names it
    literal: str  # an SQL literal of the source's dialect
    arrow: str  # str() of the Arrow type in the raw Parquet schema
    value: Any  # the value read back from the raw Parquet file
    ddl: str | None = None  # the DDL type when it differs from `declared` ("": no type)
    required: bool = False  # NOT NULL in the source: a required (non-nullable) field

    @property
    def column_ddl(self) -> str:
        return self.declared if self.ddl is None else self.ddl


INTERVAL = "struct<months: int32, days: int32, microseconds: int64>"

POSTGRES = [
    Case("smallint", "-32768", "int16", -32768),
    Case("integer", "2147483647", "int32", 2147483647),
    Case("bigint", "9007199254740993", "int64", 9007199254740993),
    Case("real", "1.5", "float", 1.5),
    Case("double precision", "0.1", "double", 0.1),
    Case(
        "numeric",
        "1234567890.123456789012",
        "decimal128(38, 18)",
        Decimal("1234567890.123456789012"),
    ),
    Case("numeric(12,2)", "-12345.67", "decimal128(12, 2)", Decimal("-12345.67")),
    Case(
        "numeric(50,10)",
        "1234567890123456789012345678.0123456789",
        "decimal128(38, 10)",
        Decimal("1234567890123456789012345678.0123456789"),
    ),
    Case("money", "-1234.56", "decimal128(19, 2)", Decimal("-1234.56")),
    Case("text", "'héllo ☃'", "string", "héllo ☃"),
    Case("varchar(20)", "'var'", "string", "var"),
    Case("char(5)", "'ab'", "string", "ab"),  # trailing blanks go, as in char::text
    Case("boolean", "true", "bool", True),
    Case("date", "'2024-02-29'", "date32[day]", date(2024, 2, 29)),
    Case("time", "'13:45:01.123456'", "time64[us]", time(13, 45, 1, 123456)),
    Case("timetz", "'13:45:01.5+05:30'", "string", "13:45:01.5+05:30"),
    Case(
        "timestamp",
        "'2024-02-29 13:45:01.123456'",
        "timestamp[us]",
        datetime(2024, 2, 29, 13, 45, 1, 123456),
    ),
    Case(
        "timestamptz",
        "'2024-02-29 13:45:01.5+02'",
        "timestamp[us, tz=Etc/UTC]",
        datetime(2024, 2, 29, 11, 45, 1, 500000, tzinfo=UTC),
    ),
    Case(
        "interval",
        "'1 year 2 months 3 days 04:05:06.789'",
        INTERVAL,
        {"months": 14, "days": 3, "microseconds": 14_706_789_000},
    ),
    Case("bytea", "'\\xdeadbeef'", "binary", b"\xde\xad\xbe\xef"),
    Case(
        "uuid",
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
        "string",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    ),
    Case("json", """'{"a": [1, 2]}'""", "string", '{"a": [1, 2]}'),
    Case("jsonb", """'{"b": {"c": null}}'""", "string", '{"b": {"c": null}}'),
    Case("xml", "'<a>x</a>'", "string", "<a>x</a>"),
    Case("inet", "'192.168.0.1/24'", "string", "192.168.0.1/24"),
    Case("macaddr", "'08:00:2b:01:02:03'", "string", "08:00:2b:01:02:03"),
    Case("bit(4)", "B'1010'", "string", "1010"),
    Case("integer[]", "'{1,2,NULL}'", "list<element: int32>", [1, 2, None]),
    Case("text[]", """'{"a","b c"}'""", "list<element: string>", ["a", "b c"]),
    Case("numeric[]", "'{1.5,NaN}'", "string", "{1.5,NaN}"),
    Case("enum (mood)", "'happy'", "string", "happy", ddl="mood"),
    Case("domain over integer (year)", "2006", "int32", 2006, ddl="year"),
    Case(
        "domain over numeric(5,2) NOT NULL",
        "12.50",
        "decimal128(5, 2)",
        Decimal("12.50"),
        ddl="price",
        required=True,
    ),
    Case("point", "'(1,2)'", "string", "(1,2)"),
    Case("int4range", "'[1,5)'", "string", "[1,5)"),
    Case("tsvector", "'a fat cat'", "string", "'a' 'cat' 'fat'"),
    Case("composite (pair)", "ROW(1, 'x')", "string", "(1,x)", ddl="pair"),
]
POSTGRES_SETUP = [
    "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
    "CREATE DOMAIN year AS integer CHECK (VALUE >= 1901 AND VALUE <= 2155)",
    "CREATE DOMAIN price AS numeric(5,2) NOT NULL",
    "CREATE TYPE pair AS (a integer, b text)",
]

MARIADB = [
    Case("TINYINT", "-128", "int8", -128),
    Case("BOOLEAN", "TRUE", "bool", True),
    Case("SMALLINT", "-32768", "int16", -32768),
    Case("MEDIUMINT", "-8388608", "int32", -8388608),
    Case("INT", "2147483647", "int32", 2147483647),
    Case("BIGINT", "9007199254740993", "int64", 9007199254740993),
    Case("INT UNSIGNED", "4294967295", "uint32", 4294967295),
    Case("BIGINT UNSIGNED", "18446744073709551615", "uint64", 18446744073709551615),
    Case("FLOAT", "1.5", "float", 1.5),
    Case("DOUBLE", "0.1", "double", 0.1),
    Case("DECIMAL(12,2)", "-12345.67", "decimal128(12, 2)", Decimal("-12345.67")),
    Case(
        "DECIMAL(65,30)",
        "12345678.123456789012345678901234567890",
        "decimal128(38, 30)",
        Decimal("12345678.123456789012345678901234567890"),
    ),
    Case("BIT(1)", "b'1'", "bool", True),
    Case("BIT(4)", "b'1010'", "binary", b"\n"),
    Case("CHAR(5)", "'ab'", "string", "ab"),
    Case("VARCHAR(20)", "'var'", "string", "var"),
    Case("TEXT", "'héllo ☃'", "string", "héllo ☃"),
    Case("BINARY(4)", "X'DEADBEEF'", "binary", b"\xde\xad\xbe\xef"),
    Case("VARBINARY(10)", "X'BEEF'", "binary", b"\xbe\xef"),
    Case("BLOB", "X'00FF'", "binary", b"\x00\xff"),
    Case("DATE", "'2024-02-29'", "date32[day]", date(2024, 2, 29)),
    Case("TIME(6)", "'-838:59:59.000000'", "string", "-838:59:59"),
    Case(
        "DATETIME(6)",
        "'2024-02-29 13:45:01.123456'",
        "timestamp[us]",
        datetime(2024, 2, 29, 13, 45, 1, 123456),
    ),
    Case("YEAR", "2006", "int32", 2006),
    Case("ENUM('a','b')", "'b'", "string", "b"),
    Case("SET('x','y')", "'x,y'", "string", "x,y"),
    Case("JSON", """'{"a": [1, 2]}'""", "string", '{"a": [1, 2]}'),
    Case(
        "UUID",
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
        "string",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    ),
    Case("INET6", "'::1'", "string", "::1"),
]

SQLITE = [
    Case("INTEGER", "9007199254740993", "int64", 9007199254740993),
    Case("INT NOT NULL", "7", "int64", 7, required=True),
    Case("REAL", "0.1", "double", 0.1),
    Case("NUMERIC", "12.5", "double", 12.5),
    Case("DECIMAL(10,2)", "12345.67", "double", 12345.67),
    Case("TEXT", "'héllo ☃'", "string", "héllo ☃"),
    Case("VARCHAR(20)", "'var'", "string", "var"),
    Case("BLOB", "x'deadbeef'", "binary", b"\xde\xad\xbe\xef"),
    Case("BOOLEAN", "1", "int64", 1),
    Case("DATE", "'2024-02-29'", "date32[day]", date(2024, 2, 29)),
    Case(
        "DATETIME",
        "'2024-02-29 13:45:01.123456'",
        "timestamp[us]",
        datetime(2024, 2, 29, 13, 45, 1, 123456),
    ),
    Case("JSON", """'{"a":1}'""", "string", '{"a":1}'),
    Case("(no type)", "'anything'", "binary", b"anything", ddl=""),
]

# Documents (MongoDB, REST, JSON files) and CSV: the value as written in the source, the
# Arrow type of the raw table (MongoDB and REST: as `raw.<source>.<entity>` reads the
# kept JSON Lines; CSV and JSON files: the raw Parquet) and the value read back.
MONGODB = [
    Case("ObjectId", "ObjectId('65f0a1b2c3d4e5f601234567')", "struct<$oid: string>",
         {"$oid": "65f0a1b2c3d4e5f601234567"}),
    Case("string", "'héllo'", "string", "héllo"),
    Case("int32", "7", "struct<$numberInt: string>", {"$numberInt": "7"}),
    Case("int64", "Int64(9007199254740993)", "struct<$numberLong: string>",
         {"$numberLong": "9007199254740993"}),
    Case("double", "0.1", "struct<$numberDouble: string>", {"$numberDouble": "0.1"}),
    Case("decimal128", "Decimal128('1234567890.123456789012')",
         "struct<$numberDecimal: string>", {"$numberDecimal": "1234567890.123456789012"}),
    Case("bool", "True", "bool", True),
    Case("date", "datetime(2024, 2, 29, 13, 45, 1, 123000, UTC)",
         "struct<$date: struct<$numberLong: string>>", {"$date": {"$numberLong": "1709214301123"}}),
    Case("null", "None", "string", None),
    Case("binary (UUID, subtype 4)", "Binary.from_uuid(UUID('a0eebc99-…'))",
         "struct<$binary: struct<base64: string, subType: string>>",
         {"$binary": {"base64": "oO68mZwLTvi7bWu5vTgKEQ==", "subType": "04"}}),
    Case("array (mixed)", "[1, 'x']", "list<l: string>", ['{"$numberInt":"1"}', '"x"']),
    Case("embedded document", "{'a': 1}", "struct<a: struct<$numberInt: string>>",
         {"a": {"$numberInt": "1"}}),
]  # fmt: skip

REST = [  # a JSON record as an API sends it; read with DuckDB's read_json
    Case("integer", "1", "int64", 1),
    Case("integer past 2^53", "9007199254740993", "int64", 9007199254740993),
    Case("integer past 2^63", "123456789012345678901234567890", "double",
         1.2345678901234568e29),
    Case("fraction", "0.1", "double", 0.1),
    Case("fraction past 17 digits", "1234567890.123456789012", "double", 1234567890.1234567),
    Case("string", '"héllo"', "string", "héllo"),
    Case("date string", '"2024-02-29"', "date32[day]", date(2024, 2, 29)),
    Case("timestamp string", '"2024-02-29T13:45:01+02:00"', "string", "2024-02-29T13:45:01+02:00"),
    Case("boolean", "true", "bool", True),
    Case("object", '{"a": 1, "b": "x"}', "struct<a: int64, b: string>", {"a": 1, "b": "x"}),
    Case("array", "[1, 2]", "list<l: int64>", [1, 2]),
]  # fmt: skip

CSV = [  # a CSV column's text, inferred (or declared with `columns`)
    Case("integers", "9007199254740993", "int64", 9007199254740993),
    Case("fractions", "0.1", "double", 0.1),
    Case("decimals past 15 digits", "1234567890.123456789012", "decimal128(22, 12)",
         Decimal("1234567890.123456789012")),
    Case("leading zeros", "007", "string", "007"),
    Case("booleans", "true", "bool", True),
    Case("dates", "2024-02-29", "date32[day]", date(2024, 2, 29)),
    Case("timestamps", "2024-02-29 13:45:01.123456", "timestamp[us]",
         datetime(2024, 2, 29, 13, 45, 1, 123456)),
    Case("timestamps with offset", "2024-02-29T13:45:01+02:00", "timestamp[us, tz=UTC]",
         datetime(2024, 2, 29, 11, 45, 1, tzinfo=UTC)),
    Case("text", "héllo", "string", "héllo"),
    Case("declared DECIMAL(10,2)", "19.99", "decimal128(10, 2)", Decimal("19.99"),
         ddl="DECIMAL(10,2)"),
]  # fmt: skip

JSON_FILES = [  # a JSON (Lines) file's field
    Case("integers", "9007199254740993", "int64", 9007199254740993),
    Case("integers and fractions", "1.5", "double", 1.5),
    Case("integers past 2^53 and fractions", "9007199254740993", "string", "9007199254740993"),
    Case("integers past 2^63", "123456789012345678901234567890", "string",
         "123456789012345678901234567890"),
    Case("strings", '"héllo"', "string", "héllo"),
    Case("booleans", "true", "bool", True),
    Case("objects and arrays", '{"a": [1, 2]}', "string", '{"a":[1,2]}'),
]  # fmt: skip
