"""The way to Spark (issue 18, docs/scale.md): the SQL files translated to Spark SQL
(:mod:`pipeline.engine.translate`), the Spark session's settings (:mod:`pipeline.engine.spark`),
a recorder of a real DuckDB night (:mod:`pipeline.engine.record`) and its replay on Spark
(:mod:`pipeline.engine.replay`). Dev tooling and the foundation of a Spark engine: nothing in a
nightly DuckDB run imports this package."""
