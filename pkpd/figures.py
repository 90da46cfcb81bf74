"""Saving figures: one place that picks the headless backend, writes PNG and SVG atomically and stamps each file
with the model version and the parameters that made it (PNG tEXt chunks, SVG Dublin-Core metadata, PDF info).

Every figure of ketamine-qsp goes through :func:`save_figure`, so a figure found on disk months later still says
which version and which inputs drew it (read it back with :func:`read_png_metadata`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["pyplot", "save_figure", "check_figure_path", "figure_metadata", "read_png_metadata",
           "FIGURE_FORMATS"]

FIGURE_FORMATS = (".png", ".svg", ".pdf")


def check_figure_path(path, field: str = "plot") -> Path:
    """``path`` as a Path if its suffix is one of :data:`FIGURE_FORMATS`; else ``ValueError`` naming ``field`` (call it
    before a long computation whose figure goes there)."""
    path = Path(path)
    if path.suffix.lower() not in FIGURE_FORMATS:
        raise ValueError(f"{field}: {str(path)!r} must end in one of {', '.join(FIGURE_FORMATS)}")
    return path


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (imported on first use: keeps the CLI fast)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_metadata(title: str, parameters: Mapping | None = None) -> dict[str, str]:
    """``{"Title", "Software", "Description"}``: the figure's title, ``ketamine-qsp <version>`` and the
    parameters as compact JSON (NumPy values allowed)."""
    from . import __version__
    from .io import dumps_json

    return {"Title": str(title), "Software": f"ketamine-qsp {__version__}",
            "Description": dumps_json(dict(parameters or {}), sort_keys=True)}


def _format_metadata(fmt: str, meta: Mapping[str, str]) -> dict:
    if fmt == "png":
        return dict(meta)
    if fmt == "svg":  # Dublin Core keys only
        return {"Title": meta["Title"], "Creator": meta["Software"], "Description": meta["Description"]}
    return {"Title": meta["Title"], "Creator": meta["Software"], "Subject": meta["Description"]}  # pdf


def save_figure(fig, path, *, title: str = "", parameters: Mapping | None = None, svg: bool = True,
                dpi: int = 150, close: bool = True) -> list[Path]:
    """Write ``fig`` to ``path`` (.png, .svg or .pdf) and, with ``svg`` and a PNG ``path``, to the SVG beside it.

    Each file is written atomically and carries :func:`figure_metadata` (``title`` defaults to the figure's
    suptitle or first axes title). Returns the paths written.

    Raises
    ------
    ValueError
        If the suffix of ``path`` is not one of :data:`FIGURE_FORMATS` (before anything is written; the figure is
        closed as it would be after saving).
    """
    from .io import atomic_path

    try:
        path = check_figure_path(path)
    except ValueError:
        if close:
            pyplot().close(fig)
        raise
    suffix = path.suffix.lower()
    if not title:
        sup = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
        title = sup or next((a.get_title() for a in fig.axes if a.get_title()), path.stem)
    meta = figure_metadata(title, parameters)
    targets = [path] + ([path.with_suffix(".svg")] if svg and suffix == ".png" else [])
    try:
        for p in targets:
            fmt = p.suffix.lower().lstrip(".")
            with atomic_path(p) as tmp:
                fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight", metadata=_format_metadata(fmt, meta))
    finally:
        if close:
            pyplot().close(fig)
    return targets


def read_png_metadata(path) -> dict[str, str]:
    """The text metadata of a PNG written by :func:`save_figure` (``Title``, ``Software``, ``Description``), read
    with Pillow (a matplotlib dependency)."""
    from PIL import Image

    with Image.open(path) as im:
        if im.format != "PNG":
            raise ValueError(f"{str(path)!r} is not a PNG file")
        return dict(im.text)
