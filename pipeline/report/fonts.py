"""The figures' Chinese font: Noto Sans SC from the ``pylopdf-fonts-zh-cn`` package (SIL Open
Font License 1.1), so that Chinese text in a figure (the labels of the Chinese report, branch
names) is drawn, as paths, whatever fonts the machine that renders or reads the report has.

The page's own text is HTML: the reader's fonts draw it (the CSS asks for PingFang SC or
Microsoft YaHei, which Chinese desktops have).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import as_file, files
from pathlib import Path

FAMILY = "Noto Sans SC"
"""The family name of the font file (matplotlib's ``font.family``)."""


@contextmanager
def font_file() -> Iterator[Path]:
    """The font file on disk (the package's own file)."""
    with as_file(files("pylopdf_fonts_zh_cn") / "NotoSansSC-Regular.otf") as path:
        yield path


@functools.cache
def register_for_matplotlib() -> None:
    """Make the font known to matplotlib as :data:`FAMILY` (once per process)."""
    from matplotlib import font_manager

    with font_file() as path:
        font_manager.fontManager.addfont(str(path))
