"""Run one contender as a child process and measure its wall time and peak memory.

Two memory figures are taken, because each has a blind spot:

* ``peak_rss_tree``: psutil polls the child and all its descendants every 50 ms and keeps
  the largest *sum* of their RSS. It sees process trees, but can miss a spike shorter
  than the poll interval.
* ``ru_maxrss``: the kernel's high-water mark for the child (``os.wait4``), exact for a
  single process but the max of one process, not a sum over a tree. It also counts the
  memory of this (parent) process that the child shared between fork and exec: once this
  process has grown (cross-checks, the exhaustive fit), every later child's ``ru_maxrss``
  is at least the parent's *peak* RSS, even after the parent freed that memory (the
  kernel carries the forked copy's high-water mark over the exec). So it is used only
  when it exceeds the parent's own high-water mark at the spawn (``parent_rss_bytes``);
  otherwise the tree poll alone gives the peak.

For the contenders here (one process each, threads inside) the two should agree closely.

The machine may be shared (other people's tests, builds). Wall time then measures the
neighbours as much as the contender, so each measurement also records the child's CPU
seconds (user + system, all threads: what the work costs, whatever the neighbours do)
and ``contention``: the share of the machine's CPU capacity that *other* processes used
while the child ran (0 = the machine was ours alone). ``wait_for_quiet`` can hold a
measurement back until the neighbours are idle.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

POLL_SECONDS = 0.05
# The RSS poller itself runs in this process while the child runs; roughly this much of a
# core (measured: well under 1%) is not counted against the neighbours.
_POLLER_CPU_SHARE = 0.01


@dataclass
class Measurement:
    """What one child process cost: wall seconds, peak memory and how it ended."""

    label: str
    argv: list[str]
    wall_seconds: float
    peak_rss_tree_bytes: int
    ru_maxrss_bytes: int
    cpu_seconds: float
    contention: float
    busy_before_percent: float | None
    returncode: int
    stdout: str
    log_path: str
    parent_rss_bytes: int = 0

    @property
    def peak_rss_bytes(self) -> int:
        """The larger of the two memory figures: the one to compare with budgets
        (``ru_maxrss`` only when it is the child's own, above the parent's RSS)."""
        own = self.ru_maxrss_bytes if self.ru_maxrss_bytes > self.parent_rss_bytes else 0
        return max(self.peak_rss_tree_bytes, own)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("stdout")
        data["peak_rss_bytes"] = self.peak_rss_bytes
        return data


class ChildFailed(RuntimeError):
    """A measured child exited non-zero; its stderr log says why."""


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def _own_peak_rss() -> int:
    """This process's high-water mark of RSS, in bytes (at least its current RSS)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = peak if sys.platform == "darwin" else peak * 1024  # kilobytes on Linux
    return max(peak, psutil.Process().memory_info().rss)


def _busy_seconds() -> float:
    """CPU seconds the machine has spent busy since boot, all cores (steal counts as busy)."""
    times = psutil.cpu_times()
    fields = ("user", "nice", "system", "irq", "softirq", "steal")  # guest is inside user
    return sum(getattr(times, f, 0.0) for f in fields)


def wait_for_quiet(max_seconds: float, threshold_percent: float) -> float:
    """Wait until the machine's CPU use (1 s samples) is below the threshold, or time out.

    Returns the last sampled CPU percent (of all cores), so callers can report it.
    """
    deadline = time.monotonic() + max_seconds
    busy = psutil.cpu_percent(interval=1.0)
    while busy >= threshold_percent and time.monotonic() < deadline:
        busy = psutil.cpu_percent(interval=1.0)
    return busy


def run_measured(
    label: str,
    argv: list[str],
    *,
    log_dir: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    quiet_wait: float = 0.0,
    quiet_threshold: float = 20.0,
) -> Measurement:
    """Run `argv` to completion; stdout is returned, stderr goes to `log_dir/<label>.log`.

    With `quiet_wait` > 0, first wait up to that many seconds for the machine's CPU use to
    fall below `quiet_threshold` percent (see `wait_for_quiet`).
    """
    busy_before = wait_for_quiet(quiet_wait, quiet_threshold) if quiet_wait > 0 else None
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{label}.log"
    stdout_path = log_dir / f"{label}.stdout"
    peak = 0
    done = threading.Event()
    with open(log_path, "wb") as err, open(stdout_path, "wb") as out:
        parent_rss = _own_peak_rss()
        busy_at_start = _busy_seconds()
        started = time.perf_counter()
        child = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err)
        watched = psutil.Process(child.pid)

        def poll() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(watched))
                done.wait(POLL_SECONDS)

        poller = threading.Thread(target=poll, name=f"rss-{label}", daemon=True)
        poller.start()
        # wait4 rather than Popen.wait: it also returns the child's own resource usage.
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        busy = _busy_seconds() - busy_at_start
        done.set()
        poller.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    maxrss = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    cpu = usage.ru_utime + usage.ru_stime
    others = max(0.0, busy - cpu - _POLLER_CPU_SHARE * wall)
    measurement = Measurement(
        label=label,
        argv=argv,
        wall_seconds=wall,
        peak_rss_tree_bytes=peak,
        ru_maxrss_bytes=maxrss,
        cpu_seconds=cpu,
        contention=others / (wall * (os.cpu_count() or 1)) if wall > 0 else 0.0,
        busy_before_percent=busy_before,
        returncode=child.returncode,
        stdout=stdout_path.read_text(errors="replace"),
        log_path=str(log_path),
        parent_rss_bytes=parent_rss,
    )
    if check and child.returncode != 0:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise ChildFailed(f"{label} exited {child.returncode}; end of {log_path}:\n{tail}")
    return measurement
