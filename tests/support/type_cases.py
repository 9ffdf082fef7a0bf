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
