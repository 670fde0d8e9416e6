"""The cvp pipeline shell: CLI, configuration, warehouse, ingest, stages and exports."""
