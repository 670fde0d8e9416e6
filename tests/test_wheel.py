"""cvp as a package: a wheel built from the sources, installed in a fresh virtual environment,
runs the nightly pipeline from a folder that is not the checkout (the SQL files and the
default configuration come from inside the package)."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, young_config

SOURCES = ("pyproject.toml", "README.md", "pipeline", "models", "sql", "configs")


def run(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)  # type: ignore[call-overload]


def test_the_wheel_installs_and_runs_a_night_outside_the_checkout(tmp_path: Path) -> None:
    src = tmp_path / "src"  # a copy: the build writes build/ and *.egg-info beside the sources
    src.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(
                path, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(path, src / name)
    built = run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ]
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("cvp-*.whl")

    venv = tmp_path / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    installed = run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ]
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    # third-party dependencies from the test's environment (a .pth line adds the folder
    # only: the editable install of the checkout there is not picked up)
    packages = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    deps = [p for p in site.getsitepackages() if Path(p, "duckdb").exists()]
    Path(packages.stdout.strip(), "_test_dependencies.pth").write_text("\n".join(deps) + "\n")

    work = tmp_path / "elsewhere"  # no configs/ and no sql/ here
    work.mkdir()
    env = dict(os.environ)
    env.update(
        CVP_LANDING_DIR=str(REPO / "data_samples" / "landing"),
        CVP_WAREHOUSE=str(work / "cvp.duckdb"),
        CVP_EXPORT_DIR=str(work / "exports"),
    )
    env.pop("PYTHONPATH", None)
    cvp = str(venv / "bin" / "cvp")
    where = run([str(python), "-c", "import pipeline; print(pipeline.__file__)"], cwd=work, env=env)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr
    version = run([cvp, "--version"], cwd=work, env=env)
    assert version.stdout.strip() == "cvp 0.1.0", version.stderr
    checked = run([cvp, "config", "check"], cwd=work, env=env)
    assert checked.returncode == 0, checked.stderr
    assert str(venv) in checked.stdout  # the packaged default configuration
    assert run([cvp, "init"], cwd=work, env=env).returncode == 0  # only init makes a warehouse
    # the packaged default, with the history of a one-day zone (the default needs a year)
    young = young_config(work, Path(packages.stdout.strip(), "pipeline", "configs", "default.yaml"))
    night = run(
        [cvp, "run", "--date", "2026-11-23", "--log-format", "json", "--config", str(young)],
        cwd=work,
        env=env,
    )
    assert night.returncode == 0, night.stderr[-3000:]
    assert (work / "exports" / "20261123" / "_SUCCESS").exists()
    # the report's templates, catalogues and Chinese font come with the package
    report = run([cvp, "report", "--date", "2026-11-23", "--lang", "zh"], cwd=work, env=env)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "<title>客户价值报告 2026-11-23</title>" in Path(report.stdout.strip()).read_text(
        "utf-8"
    )
