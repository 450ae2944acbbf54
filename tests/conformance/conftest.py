"""Matrix rows for the Python suite: every test marked `matrix` becomes one row of
MATRIX.md (client/SDK, installed version, route, check, verdict). The marker's `client`
defaults to livekit-api's TokenVerifier."""

import json
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
RESULTS = HERE / ".results"
CLIENT = "livekit-api (PyPI) TokenVerifier"
_rows: list[dict] = []


def pytest_configure(config):
    config.addinivalue_line("markers", "matrix(route, check, client=None): record the outcome as a MATRIX.md row")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("matrix")
    if marker is None:
        return
    # One row per test: the call phase decides, unless setup already failed.
    if report.when == "call" or (report.when == "setup" and report.failed):
        _rows.append(
            {
                "client": marker.kwargs.get("client") or CLIENT,
                "version": version("livekit-api"),
                "route": marker.kwargs["route"],
                "check": marker.kwargs["check"],
                "verdict": "pass" if report.passed else "FAIL",
            }
        )


def pytest_sessionfinish(session, exitstatus):
    if not _rows:
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "python-livekit-api.json").write_text(
        json.dumps({"suite": "python-livekit-api", "rows": _rows}, indent=2, ensure_ascii=False) + "\n"
    )
    node = shutil.which("node")
    if node:  # re-render .results/MATRIX.md (the renderer is shared with the Node suites)
        render = "import { render } from './lib/matrix.mjs'; render();"
        subprocess.run([node, "--input-type=module", "-e", render], cwd=HERE, check=False, stdout=subprocess.DEVNULL)
