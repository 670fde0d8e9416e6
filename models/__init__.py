"""Pure computations of cvp on polars/Arrow frames: no DuckDB, no files, no config loading."""
