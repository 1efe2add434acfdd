"""Tasks: the image and text pipelines, and evaluate / predict over a saved run folder."""
