"""Personal data kept in: what cvp writes is private by default, counterparty references
cannot be reversed without the key, and the report shows no third party's account in clear."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.config import Config
from pipeline.privacy import ENV_KEY, counterparty_ref
from tests.conftest import REPO
from tests.test_export import prepared, run_export

LANDING = REPO / "data_samples" / "landing"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def cvp(tmp: Path, *words: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process whose umask lets everyone read (022), as a login shell's."""
    env = dict(os.environ)
    env.update(
        CVP_LANDING_DIR=str(LANDING),
        CVP_WAREHOUSE=str(tmp / "db" / "cvp.duckdb"),
        CVP_EXPORT_DIR=str(tmp / "exports"),
    )
    env.pop(ENV_KEY, None)
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *words],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300,
        preexec_fn=lambda: os.umask(0o022),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("group", "file_mode", "dir_mode"), [(False, 0o600, 0o700), (True, 0o640, 0o750)]
)
def test_warehouse_and_report_are_private_unless_the_group_may_read(
    tmp_path: Path, group: bool, file_mode: int, dir_mode: int
) -> None:
    settings = yaml.safe_load((REPO / "configs" / "default.yaml").read_text("utf-8"))
    settings["privacy"] = {"group_readable": group}
    config = tmp_path / "cvp.yaml"
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), "utf-8")
    done = cvp(tmp_path, "ingest", "--new", "--date", "2026-11-23", "--config", str(config))
    assert done.returncode == 0, done.stderr[-2000:]
    warehouse = tmp_path / "db" / "cvp.duckdb"
    assert mode(warehouse) == file_mode
    assert mode(warehouse.parent) == dir_mode
    if group:
        return  # the same umask makes the report: checked once, below, in the default mode
    done = cvp(tmp_path, "report", "--date", "2026-11-23", "--config", str(config))
    assert done.returncode == 0, done.stderr[-2000:]
    report = Path(done.stdout.strip())
    assert mode(report) == file_mode
    assert mode(report.parent) == dir_mode


def test_counterparty_refs_are_keyed_hashes(cfg: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    cfg, con = prepared(cfg)
    run_export(cfg, con)
    key_file = cfg.paths.warehouse.with_name(cfg.paths.warehouse.name + ".refkey")
    assert mode(key_file) == 0o600  # made on first use, beside the warehouse
    key = key_file.read_text().strip().encode()
    assert len(key) >= 32
    network = cfg.paths.export_dir / "20261127" / "merchant_network.parquet"
    refs = pq.read_table(network).column("counterparty_ref").to_pylist()
    assert len(refs) == 2
    account = "6222000011112222"
    expected = hmac.new(key, account.encode(), hashlib.sha256).hexdigest()[:16]
    assert expected in refs
    # hashing every account the warehouse knows reverses none of them
    candidates = [
        r[0]
        for r in con.execute(
            "select distinct counterparty_account from stg_transactions "
            "where counterparty_account is not null union select '6222000011112222'"
        ).fetchall()
    ]
    plain = {hashlib.sha256(c.encode()).hexdigest()[:16] for c in candidates}
    assert not plain & set(refs)

    # a rotated key (from the environment) gives other references from the next export on
    monkeypatch.setenv(ENV_KEY, "r" * 40)
    run_export(cfg, con)
    con.close()
    rotated = pq.read_table(network).column("counterparty_ref").to_pylist()
    assert counterparty_ref(b"r" * 40, account) in rotated
    assert expected not in rotated


def test_a_key_file_others_can_read_or_a_short_key_is_refused(
    cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.errors import ConfigError
    from pipeline.privacy import ref_key

    key_file = cfg.paths.warehouse.with_name("key")
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text("k" * 64)
    key_file.chmod(0o644)
    cfg = cfg.model_copy(
        update={"privacy": cfg.privacy.model_copy(update={"ref_key_file": key_file})}
    )
    with pytest.raises(ConfigError, match="readable by others"):
        ref_key(cfg, environ={})
    key_file.chmod(0o600)
    assert ref_key(cfg, environ={}) == b"k" * 64
    with pytest.raises(ConfigError, match="fewer than 32"):
        ref_key(cfg, environ={ENV_KEY: "short"})
    key_file.unlink()
    with pytest.raises(ConfigError, match="counterparty key file not found"):
        ref_key(cfg, environ={})  # a configured key is never replaced by a new one
