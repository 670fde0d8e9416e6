"""Read a data file into numbered raw fields: decode first, then split.

Decoding happens before any split, because a GB18030 character's second byte can be ``|``:
the whole file is decoded with Python's codec and re-encoded as UTF-8 (about 250 MB/s; letting
pyarrow transcode the stream itself is five times slower), then pyarrow's C++ parser splits the
UTF-8 text on the delimiter (no quoting: the spec forbids ``|`` and line breaks inside fields).
Every field stays a string here; typing and validation happen in SQL.

Lines with the wrong number of fields are returned apart, with their line numbers, so they
can be quarantined; the good lines keep their exact line numbers.
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from pipeline.config.ingest import FileFormat, IngestConfig
from pipeline.errors import ExtractError
from pipeline.ingest.contract import FEEDS
from pipeline.ingest.discover import Control, Delivery, parse_control


@dataclass(frozen=True)
class RawFile:
    fields: pa.Table
    """``line_number`` then one string column ``r_<name>`` per file column (empty = null)."""
    misshapen: pa.Table
    """``line_number, line, n_fields`` of lines with the wrong number of fields."""


def _utf8(path: Path, fmt: FileFormat, data: bytes) -> pa.Buffer:
    """The file's bytes as UTF-8, decoded with the configured codec first."""
    try:
        if codecs.lookup(fmt.encoding).name == "utf-8":
            data.decode("utf-8")  # only checks
            return pa.py_buffer(data)
        return pa.py_buffer(data.decode(fmt.encoding).encode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ExtractError(f"{path}: not valid {fmt.encoding}: {exc.reason}") from None


def _parse(
    path: Path, text: pa.Buffer, fmt: FileFormat, names: list[str], threads: bool
) -> tuple[pa.Table, list]:
    bad: list[tuple[int | None, str, int]] = []

    def keep_apart(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.text, row.actual_columns))
        return "skip"

    columns = [f"r_{n}" for n in names]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(text),
            read_options=pacsv.ReadOptions(
                column_names=columns,
                skip_rows=1 if fmt.header else 0,
                block_size=4 << 20,
                use_threads=threads,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=fmt.delimiter,
                quote_char=False,
                escape_char=False,
                double_quote=False,
                newlines_in_values=False,
                ignore_empty_lines=False,
                invalid_row_handler=keep_apart,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                null_values=[""],
                strings_can_be_null=True,
                check_utf8=False,  # decoded above
            ),
        )
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            table = pa.table({c: pa.array([], pa.string()) for c in columns})
        else:
            first = str(exc).splitlines()[0]
            raise ExtractError(f"{path}: cannot be read: {first}") from None
    return table, bad


def read_fields(
    path: Path, fmt: FileFormat, names: list[str], data: bytes | None = None
) -> RawFile:
    """Decode and split ``path`` (or ``data``, its bytes when already read) into numbered raw
    fields named ``r_<name>``.

    Raises
    ------
    ExtractError
        When the bytes are not valid in the configured encoding.
    """
    text = _utf8(path, fmt, path.read_bytes() if data is None else data)
    table, bad = _parse(path, text, fmt, names, threads=True)
    if bad:  # the parallel parser cannot tell line numbers: read again, serially
        table, bad = _parse(path, text, fmt, names, threads=False)
    first = 2 if fmt.header else 1
    skipped = sorted(int(n) for n, _, _ in bad if n is not None)
    total = table.num_rows + len(bad)
    if skipped:
        taken = set(skipped)
        numbers = pa.array([n for n in range(first, first + total) if n not in taken], pa.int64())
    else:
        numbers = pa.array(range(first, first + table.num_rows), pa.int64())
    fields = table.add_column(0, "line_number", numbers)
    misshapen = pa.table(
        {
            "line_number": pa.array(skipped, pa.int64()),
            "line": pa.array([t for _, t, _ in sorted(bad, key=lambda b: b[0] or 0)], pa.string()),
            "n_fields": pa.array(
                [k for _, _, k in sorted(bad, key=lambda b: b[0] or 0)], pa.int64()
            ),
        }
    )
    return RawFile(fields, misshapen)


def tagged(table: pa.Table, file_id: int, channel: str | None = None) -> pa.Table:
    """``table`` with a first column ``file_id`` (and a last ``file_channel`` when given), so
    that several files can be validated in one query."""
    n = table.num_rows
    out = table.add_column(0, "file_id", pa.repeat(pa.scalar(file_id, pa.int32()), n))
    if channel is not None:
        out = out.append_column("file_channel", pa.repeat(pa.scalar(channel, pa.string()), n))
    return out


def bytes_sha256(data: bytes, control: bytes) -> str:
    """:func:`file_sha256` of a file whose data and control bytes are in memory."""
    digest = hashlib.sha256(data)
    digest.update(control.strip())
    return digest.hexdigest()


def file_sha256(delivery: Delivery) -> str:
    """The checksum of a delivery: its data bytes, then its control file's (stripped)."""
    digest = hashlib.sha256()
    with delivery.data_path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            digest.update(chunk)
    digest.update(delivery.control_path.read_bytes().strip())
    return digest.hexdigest()


@dataclass(frozen=True)
class ReadFile:
    """A delivered file as read from the landing zone, before the database sees it."""

    delivery: Delivery
    size: int
    sha256: str
    """Of the very bytes that were parsed."""
    control: Control | None
    control_error: str | None
    """Why the control file is unusable (then the data is not parsed)."""
    raw: RawFile | None
    read_error: ExtractError | None
    """Why the data could not be decoded; raised when the file is loaded."""


def read_file(cfg: IngestConfig, d: Delivery) -> ReadFile:
    """Hash, check the control file of, and decode and split one delivered file."""
    data = d.data_path.read_bytes()  # hashed and parsed: the same bytes
    size, sha = len(data), bytes_sha256(data, d.control_path.read_bytes())
    try:
        control = parse_control(d)
    except ExtractError as exc:
        return ReadFile(d, size, sha, None, str(exc), None, None)
    columns = cfg.feeds[d.feed].columns or list(FEEDS[d.feed].column_names)
    try:
        raw = read_fields(d.data_path, cfg.format, columns, data)
    except ExtractError as exc:
        return ReadFile(d, size, sha, control, None, None, exc)
    return ReadFile(d, size, sha, control, None, raw, None)
