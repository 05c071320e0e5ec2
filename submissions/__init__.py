"""EvalAI submission formats, their JSON Schemas, validation and ensembling."""
