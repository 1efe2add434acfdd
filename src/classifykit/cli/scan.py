"""`classifykit scan`."""
