"""The way to Spark (issue 18, docs/scale.md): the SQL files translated to Spark SQL
(:mod:`pipeline.engine.translate`), the Spark session's settings (:mod:`pipeline.engine.spark`),
a recorder of a real DuckDB night (:mod:`pipeline.engine.record`) and its replay on Spark
(:mod:`pipeline.engine.replay`); the engine layer the stages run on (:mod:`pipeline.engine.base`,
DuckDB in :mod:`pipeline.engine.duckdb_engine`, Spark and its lake in
:mod:`pipeline.engine.spark_engine`). A DuckDB night imports only the engine layer's DuckDB side:
nothing of pyspark or sqlglot."""
