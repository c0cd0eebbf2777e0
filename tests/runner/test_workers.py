"""Pool workers exit once their parent is gone."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}


def run_python(code: str) -> int:
    return subprocess.run([sys.executable, "-c", code], env=ENV, timeout=60).returncode


def test_a_worker_whose_parent_is_already_gone_exits_at_once():
    code = "from distillplan.runner.workers import init_worker; init_worker(-1); import time; time.sleep(60)"
    assert run_python(code) == 1


def test_the_watchdog_exits_a_worker_whose_parent_pid_changed():
    code = (
        "import threading, time; from distillplan.runner.workers import _watch_parent; "
        "threading.Thread(target=_watch_parent, args=(-1,), daemon=True).start(); time.sleep(60)"
    )
    assert run_python(code) == 1
