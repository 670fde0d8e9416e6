"""Read a data file into numbered raw fields: decode first, then split.

Decoding happens before any split, because a GB18030 character's second byte can be ``|``:
the whole file is decoded with Python's codec and re-encoded as UTF-8 (about 250 MB/s; letting
pyarrow transcode the stream itself is five times slower), then pyarrow's C++ parser splits the
UTF-8 text on the delimiter (no quoting: the spec forbids ``|`` and line breaks inside fields).
Every field stays a string here; typing and validation happen in SQL.

Lines with the wrong number of fields are returned apart, with their line numbers, so they
can be quarantined; the good lines keep their exact line numbers.

The landing zone is untrusted input. Before parsing, a file is refused whole (the date's
delivery is then incomplete, exit 3, and the other files load) when it starts with a
byte-order mark (unless ``ingest.format.bom`` strips one of its own encoding), has a line
longer than ``ingest.max_line_bytes``, is not valid in the configured encoding (the message
gives the byte offset and line), or, configured as GB18030/GBK, is valid UTF-8 with non-ASCII
text (it would decode as GB18030 mojibake). Blank lines at the end of a file are no records.
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
from pipeline.ingest.discover import Control, Delivery, parse_control, read_regular

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32 LE"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32 BE"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 BE"),
    (b"\x84\x31\x95\x33", "gb18030", "GB18030"),
)
"""Byte-order marks, longest first where one is the prefix of another."""
_GB = {codecs.lookup(n).name for n in ("gb18030", "gbk", "gb2312")}


@dataclass(frozen=True)
class RawFile:
    fields: pa.Table
    """``line_number`` then one string column ``r_<name>`` per file column (empty = null)."""
    misshapen: pa.Table
    """``line_number, line, n_fields`` of lines with the wrong number of fields."""


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _strip_bom(path: Path, fmt: FileFormat, data: bytes) -> bytes:
    """``data`` without a byte-order mark the configuration allows to strip; any other
    mark refuses the file."""
    for mark, codec, label in BOMS:
        if data.startswith(mark):
            own = codecs.lookup(codec).name == codecs.lookup(fmt.encoding).name
            if own and fmt.bom == "strip":
                return data[len(mark) :]
            hint = (
                "set ingest.format.bom: strip to accept it"
                if own
                else f"the file is {label}, not {fmt.encoding}: ask for a re-send"
            )
            raise ExtractError(f"{path.name}: starts with a {label} byte-order mark; {hint}")
    return data


def _long_line(data: bytes, limit: int) -> tuple[int, int] | None:
    """(byte offset, line number) of the first line longer than ``limit`` bytes, or None.

    Jumps from line end to line end at most ``limit`` bytes ahead, so a file of short lines
    costs a few Python steps per ``limit`` bytes, never one per line."""
    start, size = 0, len(data)
    while size - start > limit:
        end = data.rfind(b"\n", start, start + limit + 1)
        if end < 0:
            return start, _line_of(data, start)
        start = end + 1
    return None


def _without_trailing_blank_lines(data: bytes) -> bytes:
    end = len(data)
    while end and data[end - 1] in b"\r\n":
        end -= 1
    if end == 0:
        return b""  # nothing but line ends: no record
    tail = data[end:]
    if tail.count(b"\n") <= 1:
        return data
    return data[:end] + b"\n"


def looks_like_utf8_chinese(text: str) -> bool:
    """True when bytes that are valid UTF-8 read as Chinese in UTF-8 (CJK ideographs,
    punctuation or full-width forms). A GB18030 file can be valid UTF-8 by chance: a few
    two-byte characters may form UTF-8 sequences (毛雪 is c3 ab d1 a9, which UTF-8 reads as
    "ëѩ"); that reading is mojibake, not Chinese, so the file is GB18030."""
    return any("\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in text)


def _utf8(path: Path, fmt: FileFormat, data: bytes) -> pa.Buffer:
    """The file's bytes as UTF-8, decoded with the configured codec first."""
    codec = codecs.lookup(fmt.encoding).name
    try:
        if codec == "utf-8":
            data.decode("utf-8")  # only checks
            return pa.py_buffer(data)
        if codec in _GB and not data.isascii():
            try:
                as_utf8 = data.decode("utf-8")
            except UnicodeDecodeError:
                pass  # as expected of GB18030 text
            else:
                if looks_like_utf8_chinese(as_utf8):
                    raise ExtractError(
                        f"{path.name}: is UTF-8 text, not {fmt.encoding} (it would decode "
                        "as mojibake); ask for a re-send in the configured encoding, or set "
                        "ingest.format.encoding"
                    )
        return pa.py_buffer(data.decode(fmt.encoding).encode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ExtractError(
            f"{path.name}: not valid {fmt.encoding} at byte {exc.start} "
            f"(line {_line_of(data, exc.start)}): {exc.reason}; file rejected whole, "
            "ask for a re-send"
        ) from None


def prepare(path: Path, cfg: IngestConfig, data: bytes) -> pa.Buffer:
    """A data file's bytes, checked (byte-order mark, line length, encoding) and decoded to
    UTF-8 without trailing blank lines.

    Raises
    ------
    ExtractError
        Naming the file, and the byte offset and line of the problem.
    """
    data = _strip_bom(path, cfg.format, data)
    long = _long_line(data, cfg.max_line_bytes)
    if long is not None:
        raise ExtractError(
            f"{path.name}: line {long[1]} (from byte {long[0]}) is longer than "
            f"{cfg.max_line_bytes} bytes (ingest.max_line_bytes); file rejected whole"
        )
    return _utf8(path, cfg.format, _without_trailing_blank_lines(data))


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
    path: Path, cfg: IngestConfig, names: list[str], data: bytes | None = None
) -> RawFile:
    """Decode and split ``path`` (or ``data``, its bytes when already read) into numbered raw
    fields named ``r_<name>``.

    Raises
    ------
    ExtractError
        When the bytes are refused (:func:`prepare`).
    """
    fmt = cfg.format
    text = prepare(path, cfg, read_regular(path) if data is None else data)
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
    digest = hashlib.sha256(read_regular(delivery.data_path))
    digest.update(read_regular(delivery.control_path, max_bytes=4096).strip())
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
    """Why the data was refused (not a regular file, not decodable, a line too long...):
    the file is rejected."""

    @property
    def refusal(self) -> str | None:
        """:attr:`read_error` without the file name it starts with (the ledger has it)."""
        if self.read_error is None:
            return None
        text, prefix = str(self.read_error), self.delivery.file_name + ": "
        return text.removeprefix(prefix)


def read_file(cfg: IngestConfig, d: Delivery) -> ReadFile:
    """Hash, check the control file of, and decode and split one delivered file."""
    try:
        data = read_regular(d.data_path)  # hashed and parsed: the same bytes
        control_bytes = read_regular(d.control_path, max_bytes=4096)
    except ExtractError as exc:
        return ReadFile(d, 0, "", None, None, None, exc)
    size, sha = len(data), bytes_sha256(data, control_bytes)
    try:
        control = parse_control(d)
    except ExtractError as exc:
        return ReadFile(d, size, sha, None, str(exc), None, None)
    columns = cfg.feeds[d.feed].columns or list(FEEDS[d.feed].column_names)
    try:
        raw = read_fields(d.data_path, cfg, columns, data)
    except ExtractError as exc:
        return ReadFile(d, size, sha, control, None, None, exc)
    return ReadFile(d, size, sha, control, None, raw, None)
