"""Analytics used by Python steps: customer segmentation and a sales forecast.

Each module turns Arrow tables into Arrow tables, so a project's `python/*.py` step stays
a few lines. The heavy lifting sits behind small backend functions (scikit-learn on the
embedded engine), so a Spark MLlib backend can be added with the same rules.
"""
