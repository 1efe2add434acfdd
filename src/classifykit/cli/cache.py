"""``classifykit cache list`` and ``classifykit cache clean``: the shared decoded-image caches."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from classifykit.cli.app import app
from classifykit.data.cache_store import CACHE_DIR_ENV, clean_caches, list_caches, resolve_cache_dir, unfinished_builds

cache_app = typer.Typer(help="List and clean the shared decoded-image caches that runs reuse.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

CacheDir = Annotated[Optional[Path], typer.Option(
    help=f"Cache folder (default: ${CACHE_DIR_ENV} if set, else RUNS_DIR/.cache/images).")]
RunsDir = Annotated[Path, typer.Option(help="Folder that holds run folders (locates the default cache folder).")]


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def _ago(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:.1f} days ago" if days >= 1 else f"{seconds / 3600:.1f} h ago"


@cache_app.command("list")
def list_command(cache_dir: CacheDir = None, runs_dir: RunsDir = Path("runs")) -> None:
    """One line per cache: key, data folder, images, size (px × channels, filter), bytes, last used."""
    folder = resolve_cache_dir(cache_dir, runs_dir)
    entries = list_caches(folder)
    console = Console()
    if not entries:
        console.print(f"No image caches in {folder}.", highlight=False)
        return
    table = Table(title=f"Image caches in {folder}", title_justify="left")
    for name, justify in (("key", "left"), ("data folder", "left"), ("images", "right"), ("size", "left"),
                          ("bytes", "right"), ("last used", "right")):
        table.add_column(name, justify=justify, overflow="fold")
    now = time.time()
    for e in entries:
        table.add_row(e.key, e.root, str(e.images), f"{e.size} px × {e.channels} ch, {e.interpolation}",
                      _mib(e.bytes), _ago(now - e.last_used))
    console.print(table)
    building = unfinished_builds(folder)
    extra = f"; {len(building)} unfinished build(s)" if building else ""
    console.print(f"{len(entries)} caches, {_mib(sum(e.bytes for e in entries))} in all{extra}.", highlight=False)


@cache_app.command("clean")
def clean_command(
    keys: Annotated[Optional[list[str]], typer.Argument(metavar="[KEY]...", help="Caches to remove (a unique key prefix is enough).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Remove every cache.")] = False,
    older_than: Annotated[Optional[float], typer.Option("--older-than", metavar="DAYS", help="Remove caches last used more than DAYS ago.")] = None,
    cache_dir: CacheDir = None,
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Remove caches: `clean --all`, `clean KEY...` or `clean --older-than DAYS`. A later run rebuilds what it needs."""
    folder = resolve_cache_dir(cache_dir, runs_dir)
    removed, stale = clean_caches(folder, keys=keys or None, older_than_days=older_than, everything=all_)
    freed = sum(e.bytes for e in removed)
    extra = f" and {stale} unfinished build(s)" if stale else ""
    Console().print(f"Removed {len(removed)} caches ({_mib(freed)}){extra} from {folder}.", highlight=False)
