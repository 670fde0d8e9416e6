"""Read a data file as decoded lines, numbered, without splitting fields yet.

Decoding happens before any split, because a GB18030 character's second byte can be ``|``.
pyarrow transcodes the file while reading it, and every line becomes one string value
(the field delimiter given to pyarrow is a control character the spec never allows).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from pipeline.config.ingest import FileFormat
from pipeline.errors import ExtractError

_NO_SPLIT = "\x1f"  # ASCII unit separator: never part of a spec field


def read_lines(path: Path, fmt: FileFormat) -> pa.Table:
    """The file's lines as ``(line_number int64, line string)``, in file order.

    Line numbers count from 1 at the first line of the file (a header line, when configured,
    is line 1 and is skipped). Empty lines are kept, so the count can be checked.

    Raises
    ------
    ExtractError
        When the bytes are not valid in the configured encoding.
    """
    encoding = "utf8" if fmt.encoding.lower().replace("-", "") == "utf8" else fmt.encoding
    skip = 1 if fmt.header else 0
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=["line"], encoding=encoding, skip_rows=skip, block_size=8 << 20
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=_NO_SPLIT,
                quote_char=False,
                escape_char=False,
                double_quote=False,
                newlines_in_values=False,
                ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={"line": pa.string()},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except UnicodeDecodeError as exc:
        raise ExtractError(f"{path}: not valid {fmt.encoding}: {exc.reason}") from None
    except pa.ArrowInvalid as exc:
        if "CSV parse error: Empty CSV file" in str(exc) or "Empty CSV file" in str(exc):
            return pa.table(
                {"line_number": pa.array([], pa.int64()), "line": pa.array([], pa.string())}
            )
        raise ExtractError(f"{path}: cannot be read as lines: {str(exc).splitlines()[0]}") from None
    numbers = pa.array(range(1 + skip, table.num_rows + 1 + skip), pa.int64())
    return pa.table({"line_number": numbers, "line": table.column("line")})
