"""The dashboard: server-rendered pages (Jinja2) over the same context as the API.

Browsers cannot send a Bearer header on navigation, so the sign-in form stores the key
in an HttpOnly, SameSite=Strict cookie that grants READ access only; starting a run
sends the operator key from the page (kept in sessionStorage) as a Bearer header.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates

from batchlake.errors import BatchlakeError
from batchlake.serve import encode, svg
from batchlake.serve.context import ServeContext, quality_results
from batchlake.serve.deps import COOKIE, Context, open_read_allowed, role_of
from batchlake.serve.filters import RowsRequest
from batchlake.serve.layout import table_layout
from batchlake.serve.routers.query import answer
from batchlake.serve.routers.runs import run_out, step_out
from batchlake.serve.routers.tables import find_entry
from batchlake.serve.scan import scan_page

if TYPE_CHECKING:
    import pyarrow as pa

    from batchlake.serve.reader import TableVersion

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")
PAGE_ROWS = 50
ZONES = ("raw", "trusted", "refined")


def _age(when: datetime | None) -> str:
    if when is None:
        return "never"
    seconds = (datetime.now(UTC) - when).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{max(seconds, 0):.0f} s ago"


templates.env.filters["age"] = _age


def _signed_in(request: Request, ctx: ServeContext) -> bool:
    try:
        role = role_of(request, ctx, cookie=True)
    except HTTPException:
        return False
    return role is not None or open_read_allowed(request, ctx)


def _page(request: Request, ctx: ServeContext, name: str, **values: Any) -> Response:
    if not _signed_in(request, ctx):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    values.setdefault("project", ctx.lake.settings.name)
    return templates.TemplateResponse(request, name, values)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, ctx: Context, next: str = "/", error: str | None = None
) -> Response:
    project = ctx.lake.settings.name
    return templates.TemplateResponse(
        request, "login.html", {"next": next, "error": error, "project": project}
    )


@router.post("/login")
def login(request: Request, ctx: Context, key: str = Form(...), next: str = Form("/")) -> Response:
    if ctx.keys.role_of(key.strip()) is None:
        return templates.TemplateResponse(
            request,
            "login.html",
            {"next": next, "error": "that key is not valid", "project": ctx.lake.settings.name},
            status_code=401,
        )
    local = next.startswith("/") and not next.startswith(("//", "/\\"))
    target = next if local else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, key.strip(), httponly=True, samesite="strict")
    return response


@router.get("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, ctx: Context) -> Response:
    if not _signed_in(request, ctx):
        return _page(request, ctx, "index.html")
    entries = ctx.listing.entries()
    zones = {z: [e for e in entries if e.zone == z] for z in ZONES}
    return _page(request, ctx, "index.html", zones=zones)


def _preview(ctx: ServeContext, version: TableVersion, page: int) -> tuple[pa.Table, int, int]:
    """One page of rows (clamped to the last page), the page number and the page count."""
    if ctx.cache.fits(version):
        data = ctx.cache.arrow(version)
        pages = max(1, -(-data.num_rows // PAGE_ROWS))
        page = min(page, pages)
        return data.slice((page - 1) * PAGE_ROWS, PAGE_ROWS), page, pages
    total = scan_page(version, RowsRequest(), 0, 1)[1]  # too large to hold: scan the page
    pages = max(1, -(-total // PAGE_ROWS))
    page = min(page, pages)
    return scan_page(version, RowsRequest(), (page - 1) * PAGE_ROWS, PAGE_ROWS)[0], page, pages


@router.get("/tables/{zone}/{name}", response_class=HTMLResponse)
def table_page(
    request: Request, ctx: Context, zone: str, name: str, page: int = Query(1, ge=1)
) -> Response:
    if not _signed_in(request, ctx):
        return _page(request, ctx, "table.html")
    entry = find_entry(ctx, zone, name)
    chunk, page, pages = _preview(ctx, ctx.cache.current(entry.full_name), page)
    rows = [encode.rows_of(b) for b in chunk.to_batches()]
    snapshots = [] if zone == "raw" else list(reversed(ctx.lake.catalog.snapshots(entry.full_name)))
    layout = None if zone == "raw" else table_layout(ctx.lake.catalog.load(entry.full_name))
    upstream = [] if zone == "raw" else entry.upstream
    downstream = ctx.listing.downstream(entry.full_name)
    return _page(
        request,
        ctx,
        "table.html",
        entry=entry,
        columns=chunk.schema.names,
        rows=[r for part in rows for r in part],
        page=page,
        pages=pages,
        snapshots=snapshots,
        layout=layout,
        graph=svg.lineage(upstream, entry.full_name, downstream),
        quality=quality_results(ctx.lake, entry.full_name),
    )


@router.get("/sql", response_class=HTMLResponse)
def sql_page(request: Request, ctx: Context) -> Response:
    example = "SELECT * FROM refined.sales_by_month ORDER BY rank LIMIT 10"
    return _page(request, ctx, "sql.html", sql=example, result=None, error=None)


@router.post("/sql", response_class=HTMLResponse)
def sql_run(
    request: Request, ctx: Context, sql: str = Form(...), format: str = Form("html")
) -> Response:
    if not _signed_in(request, ctx):
        return _page(request, ctx, "sql.html")
    try:
        result = answer(ctx, sql, None)
    except BatchlakeError as exc:
        return _page(request, ctx, "sql.html", sql=sql, result=None, error=str(exc))
    if format == "csv":
        import pyarrow as pa

        schema = result.batches[0].schema if result.batches else pa.schema([])
        return StreamingResponse(
            encode.csv_stream(schema, result.batches),
            media_type=encode.MEDIA_TYPES["csv"],
            headers={"Content-Disposition": 'attachment; filename="query.csv"'},
        )
    rows = [r for b in result.batches for r in encode.rows_of(b)]
    return _page(request, ctx, "sql.html", sql=sql, result=result, rows=rows, error=None)


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request, ctx: Context) -> Response:
    if not _signed_in(request, ctx):
        return _page(request, ctx, "runs.html")
    runs = [run_out(r) for r in ctx.lake.metadata.runs(50)]
    return _page(request, ctx, "runs.html", runs=runs)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, ctx: Context, run_id: str) -> Response:
    if not _signed_in(request, ctx):
        return _page(request, ctx, "run.html")
    found = ctx.lake.metadata.run(run_id)
    if found is None:
        why = ctx.runs.errors.get(run_id)
        return _page(request, ctx, "run.html", run=None, run_id=run_id, why=why, steps=[])
    steps = [step_out(s) for s in ctx.lake.metadata.steps(found["run_id"])]
    return _page(request, ctx, "run.html", run=run_out(found), run_id=run_id, steps=steps)


# The charts of the Chinook example's refined tables; a chart whose table is missing is skipped.
# (title, table, kind, unit of the values, SQL: label, value[, what fills {} in the title]).
_CHARTS = (
    (
        "Sales by day",
        "refined.sales_by_day",
        "line",
        "USD",
        "SELECT CAST(sale_date AS VARCHAR), CAST(total_amount AS DOUBLE) "
        "FROM refined.sales_by_day ORDER BY sale_date",
    ),
    (
        "Top artists of {} (tracks sold)",
        "refined.top_artists_by_month",
        "bar",
        "tracks",
        "SELECT artist_name, tracks_sold, CAST(month AS VARCHAR) "
        "FROM refined.top_artists_by_month "
        "WHERE month = (SELECT max(month) FROM refined.top_artists_by_month) "
        "ORDER BY rank, artist_name",
    ),
    (
        "Sales by weekday",
        "refined.sales_by_weekday",
        "bar",
        "USD",
        "SELECT weekday, CAST(total_amount AS DOUBLE) FROM refined.sales_by_weekday "
        "ORDER BY weekday_number",
    ),
    (
        "Best months (ranking by sales)",
        "refined.sales_by_month",
        "bar",
        "USD",
        "SELECT month, CAST(total_amount AS DOUBLE) FROM refined.sales_by_month "
        "ORDER BY rank, month LIMIT 12",
    ),
)


@router.get("/charts", response_class=HTMLResponse)
def charts_page(request: Request, ctx: Context) -> Response:
    if not _signed_in(request, ctx):
        return _page(request, ctx, "charts.html")
    known = set(ctx.cache.table_names())
    charts = []
    for title, table, kind, unit, sql in _CHARTS:
        if table not in known:
            continue
        result = answer(ctx, sql, 10_000)
        pairs = [r for b in result.batches for r in encode.rows_of(b)]
        labels = [str(p[0]) for p in pairs]
        values = [float(p[1] or 0) for p in pairs]
        title = title.format(pairs[0][2] if pairs and len(pairs[0]) > 2 else "the latest month")
        draw = svg.line_chart if kind == "line" else svg.bar_chart
        charts.append((title, table, draw(labels, values, title, unit)))
    return _page(request, ctx, "charts.html", charts=charts)
