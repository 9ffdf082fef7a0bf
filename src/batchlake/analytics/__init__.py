"""Analytics used by Python steps: customer segmentation and a sales forecast.

Each module turns Arrow tables into Arrow tables, so a project's `python/*.py` step stays
a few lines. The heavy lifting sits behind small backend functions: scikit-learn on the
embedded engine; for segmentation also Spark MLlib (`segmentation_spark`, imported only
when a step on Spark uses it), which gives the same segments.
"""
