"""Configuration of the export stage: which Parquet files to publish, under which schema version."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

EXPORT_FILES = (
    "customer_value",
    "merchants",
    "merchant_network",
    "cross_sell",
    "channel_migration",
    "call_list",
    "rm_scorecard",
    "branch_summary",
)


class ExportConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: str = Field(default="1.2", pattern=r"^\d+\.\d+$")
    """Version of the file schemas in docs/exports.md; raise the major on a breaking change."""
    files: list[str] = Field(default_factory=lambda: list(EXPORT_FILES))
    """Files to write, without ``.parquet``; the names documented in docs/exports.md."""
    compression: str = "zstd"
    """Parquet compression codec (zstd, snappy, gzip or none)."""

    @field_validator("files")
    @classmethod
    def _known_files(cls, files: list[str]) -> list[str]:
        unknown = set(files) - set(EXPORT_FILES)
        if unknown:
            raise ValueError(f"unknown files {sorted(unknown)}; known: {', '.join(EXPORT_FILES)}")
        if "customer_value" not in files:
            raise ValueError("customer_value is the export's main file and cannot be left out")
        return files

    @field_validator("compression")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        if value not in {"zstd", "snappy", "gzip", "none"}:
            raise ValueError(f"compression {value!r}: use zstd, snappy, gzip or none")
        return value
