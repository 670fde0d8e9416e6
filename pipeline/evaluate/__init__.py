"""Each model against the generator's ground truth, one module per model.

``python -m pipeline.evaluate.<model> --warehouse W --truth T ...`` measures one model
(merchants, cross_sell, clv, potential); ``python -m pipeline.evaluate --dir D`` (``make
evaluate``) measures all four on a generated zone and its warehouse (``make demo``'s).
Every tool prints the same kind of table (one line per figure) and writes the same figures
as JSON to ``<out>/<model>.json``, so runs on several seeds can be compared side by side. The
truth is read only here, to measure; the stages never read it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path("var/evaluate")
KEYS = ("product_code", "predictor", "reason", "fit_role", "tier", "pair")
"""A list item is labelled by the first of these it has (else by its position)."""


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``(name, value)`` per figure: nested keys joined by ``.``, list items by their label."""
    if isinstance(value, dict):
        out: list[tuple[str, Any]] = []
        for key, item in value.items():
            out.extend(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = []
        for i, item in enumerate(value):
            label = next((str(item[k]) for k in KEYS if k in item), str(i))
            rest = {k: v for k, v in item.items() if str(item.get(k)) != label}
            out.extend(flatten(rest, f"{prefix}[{label}]"))
        return out
    return [(prefix, value)]


def publish(model: str, result: dict[str, Any], out_dir: Path | None = None) -> Path:
    """Print ``result`` as a two-column table and write it to ``<out_dir>/<model>.json``."""
    rows = flatten(result)
    width = max((len(name) for name, _ in rows), default=0)
    print(f"== {model}")
    for name, value in rows:
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{name:<{width}}  {shown}")
    path = (out_dir or DEFAULT_OUT) / f"{model}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"(written to {path})")
    return path
