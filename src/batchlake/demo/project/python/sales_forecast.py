"""Sales forecast: the next months of revenue from a linear trend × month-of-year index.

See batchlake.analytics.forecast for the model and its backtest (MAPE).
"""

from batchlake import step
from batchlake.analytics.forecast import forecast_tables


@step(
    inputs=["refined.sales_by_month"],
    outputs=["refined.sales_forecast", "refined.forecast_metrics"],
)
def sales_forecast(ctx):
    """Forecast `horizon` months ahead; backtest over the last `backtest` known months."""
    tables = forecast_tables(
        ctx.table("refined.sales_by_month"),
        horizon=int(ctx.params.get("horizon", 3)),
        backtest=int(ctx.params.get("backtest", 6)),
    )
    return {
        "refined.sales_forecast": tables["forecast"],
        "refined.forecast_metrics": tables["metrics"],
    }
