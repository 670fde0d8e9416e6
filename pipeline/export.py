"""Publishing an export: Parquet files, a manifest and ``_SUCCESS``, all or nothing.

The guarantee
-------------
A reader that lists ``<export_dir>/<YYYYMMDD>/`` sees either no folder or a complete export
(every file, ``_manifest.json`` and ``_SUCCESS``), never a partial one, and a re-run replaces a
date's export the same way. How:

1. Everything is written into ``<export_dir>/.tmp-<YYYYMMDD>-<random>/`` (a hidden name no reader
   looks at), each file flushed and ``fsync``-ed, the manifest after the data files and
   ``_SUCCESS`` last, then the folder itself ``fsync``-ed.
2. If no export of the date exists, one ``rename`` puts the folder in place. A rename within a
   file system is atomic (POSIX ``rename(2)``): the date folder appears whole, or not at all.
3. If one exists, it is first renamed aside to ``.old-<YYYYMMDD>-<random>``, then the new folder
   is renamed in, then the old one deleted. Between the two renames (microseconds) the date
   folder is absent: a reader sees none, never a mixture. Then the parent folder is ``fsync``-ed
   so that the renames survive a power cut.
4. A run killed part-way leaves at most a hidden ``.tmp-*`` (or, killed between the two renames,
   an ``.old-*`` and no date folder). The next export of that date deletes the ``.tmp-*`` and, if
   the date folder is missing, restores a complete ``.old-*`` first; a reader never sees either.

Readers should wait for ``_SUCCESS`` and can verify every file against the manifest's SHA-256.

Test hook: when the environment variable ``CVP_EXPORT_TEST_PAUSE_SECONDS`` is set, the writer
sleeps that long after each file it writes into the temporary folder, so that a test can kill
it part-way (tests/test_export_atomic.py). Never set it in production.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

SUCCESS = "_SUCCESS"
MANIFEST = "_manifest.json"
PAUSE_ENV = "CVP_EXPORT_TEST_PAUSE_SECONDS"

MOBILE_MASK_SQL = (
    "case when length({col}) = 11 and regexp_matches({col}, '^1[0-9]{{10}}$') "
    "then left({col}, 3) || '****' || right({col}, 4) end"
)
"""SQL for a masked mobile (``138****1234``); anything that is not an 11-digit mainland mobile
becomes NULL rather than risk exporting it in clear. Portable: Spark has no
``regexp_full_match``; its ``rlike`` (``regexp_matches``) finds the pattern anywhere, hence the
anchors, and Java's ``$`` also matches before a final line break, hence the length."""

_MOBILE = re.compile(r"1\d{10}")


def mask_mobile(mobile: str | None) -> str | None:
    """``13812341234`` → ``138****1234``; anything else (unknown format) → None.

    >>> mask_mobile("13812341234")
    '138****1234'
    >>> mask_mobile("12345") is None
    True
    """
    if mobile is None or not _MOBILE.fullmatch(mobile):
        return None
    return f"{mobile[:3]}****{mobile[-4:]}"


def mask_counterparty(text: str | None) -> str | None:
    """A third party's account or card number, or name, masked as a mobile is: the first
    and last four characters of a number (``6222****2222``), the first character of a name
    (``李**``), so a report shows which counterparty without disclosing it.

    >>> mask_counterparty("6222000011112222")
    '6222****2222'
    >>> mask_counterparty("李珅批发商行")
    '李**'
    >>> mask_counterparty("12345")
    '****'
    """
    if text is None:
        return None
    if text.isascii() and text.replace("-", "").replace(" ", "").isalnum():
        return f"{text[:4]}****{text[-4:]}" if len(text) >= 12 else "****"
    return f"{text[:1]}**"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # Directories cannot be fsync-ed on every platform (Windows); the rename is still atomic.
    with contextlib.suppress(OSError):
        _fsync_file(path)


def _pause() -> None:
    seconds = os.environ.get(PAUSE_ENV)
    if seconds:
        time.sleep(float(seconds))


def date_folder(export_dir: Path, business_date: date) -> Path:
    return export_dir / business_date.strftime("%Y%m%d")


def clean_leftovers(export_dir: Path, business_date: date) -> None:
    """Remove a killed run's temporary folders for the date; restore a complete old export when
    a run died between its two renames."""
    stamp = business_date.strftime("%Y%m%d")
    final = export_dir / stamp
    for tmp in export_dir.glob(f".tmp-{stamp}-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    for old in sorted(export_dir.glob(f".old-{stamp}-*")):
        if not final.exists() and (old / SUCCESS).exists():
            os.rename(old, final)
            _fsync_dir(export_dir)
        else:
            shutil.rmtree(old, ignore_errors=True)


def publish_export(
    export_dir: Path,
    business_date: date,
    tables: Mapping[str, pa.Table],
    manifest: dict[str, Any],
    attachments: Mapping[str, Path] | None = None,
    compression: str = "zstd",
) -> Path:
    """Write the date's export atomically (see the module docstring) and return its folder.

    Parameters
    ----------
    export_dir
        Root of the exports; created if needed.
    business_date
        The date; the folder is ``<export_dir>/<YYYYMMDD>``.
    tables
        File stem → Arrow table, written as ``<stem>.parquet`` in this order.
    manifest
        Fields of ``_manifest.json``; ``files`` (name, rows, bytes, sha256 of each file) is
        added here.
    attachments
        Extra files copied in as they are: name in the export → source path.
    compression
        Parquet codec.
    """
    import pyarrow.parquet as pq

    export_dir.mkdir(parents=True, exist_ok=True)
    clean_leftovers(export_dir, business_date)
    stamp = business_date.strftime("%Y%m%d")
    final = export_dir / stamp
    tmp = export_dir / f".tmp-{stamp}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        files: list[dict[str, Any]] = []
        for stem, table in tables.items():
            path = tmp / f"{stem}.parquet"
            pq.write_table(table, path, compression=compression)
            _fsync_file(path)
            files.append(
                {
                    "name": path.name,
                    "rows": table.num_rows,
                    "bytes": path.stat().st_size,
                    "sha256": sha256_file(path),
                }
            )
            _pause()
        for name, source in (attachments or {}).items():
            path = tmp / name
            shutil.copyfile(source, path)
            _fsync_file(path)
            files.append(
                {
                    "name": name,
                    "rows": None,
                    "bytes": path.stat().st_size,
                    "sha256": sha256_file(path),
                }
            )
        body = dict(manifest, files=files)
        (tmp / MANIFEST).write_text(
            json.dumps(body, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )
        _fsync_file(tmp / MANIFEST)
        (tmp / SUCCESS).write_bytes(b"")
        _fsync_file(tmp / SUCCESS)
        _fsync_dir(tmp)
        if final.exists():
            old = export_dir / f".old-{stamp}-{secrets.token_hex(4)}"
            os.rename(final, old)
            os.rename(tmp, final)
            _fsync_dir(export_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
            _fsync_dir(export_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def verify_export(folder: Path) -> list[str]:
    """Problems with a published export: missing ``_SUCCESS`` or manifest, checksum mismatches.

    An empty list means the folder is complete and every file matches its manifest entry.
    """
    if not (folder / SUCCESS).exists():
        return [f"{folder}: no {SUCCESS}"]
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{folder / MANIFEST}: unreadable ({exc})"]
    problems = []
    for entry in manifest.get("files", []):
        path = folder / entry["name"]
        if not path.exists():
            problems.append(f"{path}: missing")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{path}: SHA-256 differs from the manifest")
    return problems
