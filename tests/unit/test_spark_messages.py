"""What a model's failure on Spark says: the Python worker's own error, and what to do."""

from __future__ import annotations

from batchlake.engines.spark import _spark_message

WORKER_FAILURE = """[PYTHON_EXCEPTION] An exception was thrown from the Python worker: Traceback \
(most recent call last):
  File "/x/pyspark/worker_util.py", line 75, in read_command
    command = serializer.loads(file)
ModuleNotFoundError: No module named 'pyiceberg'
 SQLSTATE: 38000
\tat org.apache.spark.api.python.BasePythonRunner$ReaderIterator.handlePythonException(x)
org.apache.spark.SparkException: Job aborted due to stage failure
"""


def test_a_python_worker_failure_names_its_error_and_the_fix() -> None:
    message = _spark_message(RuntimeError(WORKER_FAILURE))
    assert message.startswith(
        "Spark's Python worker failed: ModuleNotFoundError: No module named 'pyiceberg'"
    )
    assert "PYSPARK_PYTHON" in message


def test_other_spark_errors_keep_their_first_line() -> None:
    error = RuntimeError("[UNRESOLVED_ROUTINE] Cannot resolve routine `list_reverse`\nJVM stack")
    assert _spark_message(error) == "[UNRESOLVED_ROUTINE] Cannot resolve routine `list_reverse`"
