"""Wall time of `epochal tutorial --quick` (the README's main job), against its one-minute budget.

Runs the installed console script a few times in fresh processes, as a user would, and prints each
time, the median, and the median as a fraction of the 60-second budget the --quick mode promises on
two CPU cores.

Usage:
    python benchmarks/tutorial_quick.py [--trials 3] [--subset]
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BUDGET_SECONDS = 60.0


def time_one_run(extra_flags: list[str]) -> float:
    out = tempfile.mkdtemp(prefix="epochal-tutorial-")
    command = [sys.executable, "-m", "epochal", "tutorial", "--quick", "--out", out, *extra_flags]
    try:
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--subset", action="store_true", help="use the embedded subset, as offline machines do")
    args = parser.parse_args(argv)
    flags = ["--subset"] if args.subset else []
    print(f"# {datetime.date.today()} | {platform.machine()} | {os.cpu_count()} cores | Python "
          f"{platform.python_version()} | data: {'embedded subset' if args.subset else 'full Fashion-MNIST'}")
    times = [time_one_run(flags) for _ in range(args.trials)]
    median = statistics.median(times)
    print("runs (s): " + ", ".join(f"{t:.1f}" for t in times))
    print(f"median {median:.1f} s = {median / BUDGET_SECONDS:.2f}x the {BUDGET_SECONDS:.0f} s budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
