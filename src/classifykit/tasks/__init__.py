"""Tasks: one pipeline (train, evaluate, predict) over a task adapter per task (image, text)."""
