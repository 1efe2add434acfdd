"""``python -m classifykit`` (what ``torchrun -m classifykit`` runs)."""

from classifykit.cli import main

if __name__ == "__main__":
    main()
