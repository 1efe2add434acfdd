"""``classifykit scan``: check an image folder or a manifest, write manifest.csv and skipped.csv."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from classifykit.cli.app import app
from classifykit.data.manifest import manifest_root, read_manifest, write_manifest
from classifykit.data.scan import CACHE_NAME, ScanResult, reason_kind, scan_folder, verify_items
from classifykit.errors import ClassifykitError
from classifykit.io import write_csv
from classifykit.runfolder import SKIPPED

SHOW_SKIPPED = 30  # more than this many skipped files are left to skipped.csv


@app.command("scan")
def scan(
    source: Annotated[Path, typer.Argument(metavar="SOURCE", help="Image folder (one subfolder per class) or a manifest CSV/TSV of path,label.")],
    out: Annotated[Path, typer.Option(help="Manifest to write; skipped.csv and the rescan cache go beside it.")] = Path("manifest.csv"),
    workers: Annotated[Optional[int], typer.Option(help="Decoding processes (default: all CPUs).")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help=f"Reuse results for unchanged files ({CACHE_NAME} beside --out).")] = True,
    encoding: Annotated[str, typer.Option(help="Manifest text encoding (utf-8 also accepts a BOM).")] = "utf-8",
    path_column: Annotated[Optional[str], typer.Option(help="Manifest column with image paths (default: auto-detect).")] = None,
    label_column: Annotated[Optional[str], typer.Option(help="Manifest column with labels (default: auto-detect).")] = None,
    root: Annotated[Optional[Path], typer.Option(help="Folder a manifest's relative paths start from (default: the manifest's folder).")] = None,
) -> None:
    """Decode every image once; write OUT (path,label,width,height,mode) and skipped.csv (file,reason).

    Examples: `classifykit scan photos/ --out runs/photos/manifest.csv` (`photos/<class>/<image>`, or
    `photos/train|val|test/<class>/<image>` to keep a given split); `classifykit scan labels.csv --root
    images/ --label-column species` (your own CSV/TSV of image paths and labels).
    """
    if workers is not None and workers < 1:
        raise ClassifykitError(f"--workers {workers}: give 1 or more processes.")
    cache_path = out.parent / CACHE_NAME if cache else None
    if source.is_dir():
        manifest_options = {"--encoding": encoding != "utf-8", "--path-column": path_column, "--label-column": label_column, "--root": root}
        given = [name for name, value in manifest_options.items() if value]
        if given:
            raise ClassifykitError(f"{given[0]} applies to a manifest file; {source} is a folder (its class folders give the labels).")
        result = scan_folder(source, workers=workers, progress=progress, cache_path=cache_path)
    elif source.is_file():
        if out.resolve() == source.resolve():
            raise ClassifykitError(f"--out {out} is the manifest being read; write the checked manifest elsewhere with --out.")
        items = read_manifest(source, root=root, encoding=encoding, path_column=path_column, label_column=label_column)
        result = verify_items(manifest_root(source, root), items, workers=workers, progress=progress, cache_path=cache_path)
    else:
        raise ClassifykitError(f"{source}: no such folder or file. Give an image folder (<dir>/<class>/<image>) or a manifest CSV.")
    skipped_path = out.parent / SKIPPED
    write_manifest(out, result.items)
    write_csv(skipped_path, ("file", "reason"), result.skipped)
    print_report(Console(), result, out, skipped_path)
    if not result.items:
        raise ClassifykitError(f"{source}: no usable images; every file was skipped (reasons in {skipped_path}).")


def print_report(console: Console, result: ScanResult, out: Path, skipped_path: Path) -> None:
    """Classes with counts (per split when the folder came split), skipped files, one summary line;
    then the scan's notes (hidden/system and unlabelled folders left out, images counted as the class
    of a higher folder) on stderr, as every data warning."""
    table = Table(title=f"Classes in {result.root}", title_justify="left")
    table.add_column("class")
    table.add_column("images", justify="right")
    splits = [s for s in ("train", "val", "test") if result.preset_split and s in result.preset_split.values()]
    per_split = Counter((it.label, result.preset_split[it.path]) for it in result.items) if splits else Counter()
    for s in splits:
        table.add_column(s, justify="right")
    for c in sorted(result.classes + result.empty_classes):
        n = result.counts.get(c, 0)
        style = "red" if n == 0 else None
        table.add_row(c, str(n), *(str(per_split[c, s]) for s in splits), style=style)
    table.add_section()
    table.add_row("total", str(len(result.items)), *(str(sum(per_split[c, s] for c in result.classes)) for s in splits))
    console.print(table)
    if result.empty_classes:
        console.print(f"[red]Empty classes[/] (no usable image; left out): {', '.join(result.empty_classes)}", highlight=False)
    if result.skipped:
        shown = Table(title="Skipped files", title_justify="left")
        shown.add_column("file", overflow="fold")
        shown.add_column("reason", overflow="fold")
        for file, reason in result.skipped[:SHOW_SKIPPED]:
            shown.add_row(file, reason)
        console.print(shown)
        if len(result.skipped) > SHOW_SKIPPED:
            console.print(f"… and {len(result.skipped) - SHOW_SKIPPED} more in {skipped_path}", highlight=False)
    kinds = Counter(reason_kind(r) for _, r in result.skipped)
    detail = f" ({', '.join(f'{n} {k}' for k, n in kinds.most_common())})" if kinds else ""
    console.print(
        f"{len(result.items)} images in {len(result.classes)} classes, {len(result.skipped)} skipped{detail}. "
        f"Scanned in {result.seconds:.1f} s ({result.reused} unchanged files reused); wrote {out} and {skipped_path}.",
        highlight=False,
    )
    warn = Console(stderr=True, soft_wrap=True)
    for note in result.notes():
        warn.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
