"""A GB18030 file that happens to be valid UTF-8 is still GB18030 (pipeline/ingest/reader.py).

Found by the generator: seed 42's ATM file of 2025-12-14 holds one name, 毛雪, whose GB18030
bytes c3 ab d1 a9 are also valid UTF-8 ("ëѩ"); the zone's ingest refused it as UTF-8 and
`make demo` stopped (exit 3). UTF-8 Chinese reads as CJK; a chance UTF-8 reading of GB18030
does not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config.ingest import FileFormat
from pipeline.errors import ExtractError
from pipeline.ingest.reader import _utf8, looks_like_utf8_chinese


def test_gb18030_that_is_also_valid_utf8_is_read_as_gb18030() -> None:
    line = "T1|毛雪|100.00\n".encode("gb18030")
    assert line.decode("utf-8")  # valid UTF-8 by chance: "ëѩ"
    assert not looks_like_utf8_chinese(line.decode("utf-8"))
    out = _utf8(Path("TXN_ATM_20251214.dat"), FileFormat(), line)
    assert out.to_pybytes().decode("utf-8") == "T1|毛雪|100.00\n"


def test_utf8_chinese_in_a_gb18030_zone_is_still_refused() -> None:
    line = "T1|张伟|100.00\n".encode()
    assert looks_like_utf8_chinese(line.decode("utf-8"))
    with pytest.raises(ExtractError, match="is UTF-8 text, not gb18030"):
        _utf8(Path("CUST_20261127.dat"), FileFormat(), line)
