"""The result of a study as data: :class:`Result` (``backtests.run`` and ``backtests.load_run``).

A :class:`Result` wraps what a run folder holds (:class:`~backtests.report.view.SavedRun`:
metrics.json, manifest.json and the tables), whether the run was kept in memory or read back from
its folder, and hands it out as typed frames (:mod:`backtests.api.frames`, columns in
:mod:`backtests.api.columns`), as the tearsheet's verdict and warnings in a notebook
(``_repr_html_``, no JavaScript), as the whole tearsheet (:meth:`Result.tearsheet`) and as its
figures one by one (:meth:`Result.plot`).
"""

from __future__ import annotations

import html
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from backtests.api import frames
from backtests.errors import ScareInputError
from backtests.report.view import SavedRun

#: Height of the inline tearsheet (pixels); the page scrolls inside it.
INLINE_HEIGHT = 900


class Result:
    """A study's results. Read-only: nothing here writes unless a path is given.

    Frames (each a property, built on first use, documented in docs/api.md): :attr:`verdict`,
    :attr:`episodes`, :attr:`pooled`, :attr:`sweep`, :attr:`runs`, :attr:`orders`, :attr:`weights`,
    :attr:`warnings`, :attr:`audit`, :attr:`data`. The documents themselves: :attr:`metrics`
    (metrics.json) and :attr:`manifest` (manifest.json), as dicts.
    """

    def __init__(self, saved: SavedRun, folder: Path | None = None) -> None:
        self._saved = saved
        #: the run folder the result was written to or read from (None: kept in memory only)
        self.folder = folder

    # ------------------------------------------------------------------ documents
    @property
    def metrics(self) -> dict[str, Any]:
        """metrics.json as a dict (do not modify: the frames read it)."""
        return self._saved.metrics

    @property
    def manifest(self) -> dict[str, Any]:
        """manifest.json as a dict."""
        return self._saved.manifest

    @property
    def study(self) -> str:
        return str(self.metrics.get("study") or "")

    @property
    def synthetic(self) -> bool:
        """True when the results rest on the synthetic replay, not market data."""
        return bool(self.metrics.get("synthetic"))

    @property
    def fingerprint(self) -> str | None:
        """SHA-256 identifying the data the run read (metrics.json ``data.fingerprint``)."""
        return (self.metrics.get("data") or {}).get("fingerprint")

    # ------------------------------------------------------------------ frames
    @cached_property
    def verdict(self) -> pd.DataFrame:
        """One row per strategy and baseline: events, clusters, traded, mean and median per event,
        interval, p, leave-one-cluster-out, gap, DSR with N, PBO, warnings count."""
        return frames.verdict_frame(self._saved)

    @cached_property
    def episodes(self) -> pd.DataFrame:
        """One row per strategy, shown parameter set and event (and its baselines' episodes)."""
        return frames.episodes_frame(self._saved)

    @cached_property
    def pooled(self) -> pd.DataFrame:
        """Calendar-time pooled returns per strategy and parameter set (pooled.parquet), long."""
        return frames.pooled_frame(self._saved)

    @cached_property
    def sweep(self) -> pd.DataFrame:
        """One row per strategy and parameter set: trust (rank, DSR, PBO) and pooled metrics."""
        return frames.sweep_frame(self._saved)

    @cached_property
    def runs(self) -> pd.DataFrame:
        """The per-run metrics table: one row per (strategy, parameter set, window)."""
        return frames.runs_frame(self._saved)

    @cached_property
    def orders(self) -> pd.DataFrame:
        """Every fill (orders.parquet) with its run's strategy and parameter set."""
        return frames.orders_frame(self._saved)

    @cached_property
    def weights(self) -> pd.DataFrame:
        """Target and held weights per run, bar and symbol (weights.parquet)."""
        return frames.weights_frame(self._saved)

    @cached_property
    def warnings(self) -> pd.DataFrame:
        """The run's named warnings (metrics.json ``warnings``)."""
        return frames.warnings_frame(self._saved)

    @cached_property
    def audit(self) -> pd.DataFrame:
        """The look-ahead audit's verdict per strategy (manifest.json ``audit``)."""
        return frames.audit_frame(self._saved)

    @cached_property
    def data(self) -> pd.DataFrame:
        """What the run read: one row per symbol with its fingerprint; ``attrs`` holds the data's
        combined ``fingerprint``, ``synthetic``, ``label``, ``source`` and ``frequency``."""
        return frames.data_frame(self._saved)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        strategies = [str(s.get("label")) for s in self.metrics.get("strategies") or [] if isinstance(s, dict)]
        where = f", folder={str(self.folder)!r}" if self.folder else ""
        return (f"<scare Result {self.study!r}: {len(self.metrics.get('runs') or [])} runs, strategies "
                f"{', '.join(strategies)}{' [SYNTHETIC]' if self.synthetic else ''}{where}>")

    def _repr_html_(self) -> str:
        """The tearsheet's first screen: the verdict table with the warnings and the audit above it,
        rendered by the tearsheet's own code, styled inline, with no script."""
        from backtests.report.page import CSS, Page, guarded
        from backtests.report.tearsheet import data_label
        from backtests.report.verdict import audit_block, verdict, warnings_block
        from backtests.report.view import StudyView

        view = StudyView(self._saved)
        label, synthetic = data_label(self.metrics)
        body = guarded("Verdict", lambda: verdict(Page(label, synthetic), view, guarded("Warnings", lambda: warnings_block(view)),
                                                  guarded("Audit", lambda: audit_block(self.manifest))))
        body = re.sub(r'<a href="#[^"]*"( class="badge")?', lambda m: "<span" + (m.group(1) or ""), body)
        body = body.replace("</a>", "</span>")  # anchors of the page's sections go nowhere here
        banner = (f'<p class="banner"><strong>{html.escape(label)}.</strong> Results of the synthetic replay, '
                  'not market prices.</p>' if synthetic else f'<p class="note">{html.escape(label)}</p>')
        where = f' · folder <code>{html.escape(str(self.folder))}</code>' if self.folder else ""
        head = (f'<p><b>{html.escape(self.study)}</b> <span class="note">scare result · '
                f'{len(self.metrics.get("runs") or [])} runs · <code>result.tearsheet()</code> for the whole page'
                f'{where}</span></p>')
        return f'<div class="scare-result"><style>{scoped_css(CSS, ".scare-result")}</style>{head}{banner}{body}</div>'

    # ------------------------------------------------------------------ tearsheet and figures
    @cached_property
    def _page(self) -> tuple[str, Any]:
        from backtests.report.tearsheet import render_page

        return render_page(self._saved)

    def tearsheet(self, path: str | os.PathLike[str] | None = None, *, overwrite: bool = False) -> Tearsheet | Path:
        """The tearsheet: shown inline (Jupyter, VS Code) when ``path`` is None, else written there
        (one self-contained file; an existing file is replaced only with ``overwrite=True``) and
        its path returned. The page is the one ``scare run`` writes for the same run."""
        text = self._page[0]
        if path is None:
            return Tearsheet(text)
        target = Path(path)
        if target.is_dir():
            raise ScareInputError("is a folder: give the file to write the tearsheet to", where=str(target))
        if target.exists() and not overwrite:
            raise ScareInputError("exists: pass overwrite=True to replace it", where=str(target))
        from backtests.outputs.regenerate import write_replacing

        write_replacing(target, text)
        return target

    def figures(self) -> pd.DataFrame:
        """The tearsheet's figures: ``strategy``, ``kind`` (what :meth:`plot` takes) and ``title``."""
        page = self._page[1]
        rows = []
        labels = [str(x.get("label")) for x in self.metrics.get("strategies") or [] if isinstance(x, dict)]
        for fid, title in page.titles.items():
            name = page.names[fid]
            strategy = max((lab for lab in labels if name.startswith(f"{lab}-")), key=len, default="")
            rows.append({"strategy": strategy, "kind": name[len(strategy) + 1:] if strategy else name,
                         "title": title, "id": fid})
        return pd.DataFrame(rows, columns=["strategy", "kind", "title", "id"])

    def plot(self, kind: str, strategy: str | None = None) -> Any:
        """One of the tearsheet's figures as a plotly ``Figure``: ``kind`` is one of
        :meth:`figures`' kinds (``equity``, ``per-event``, ``fan``, ``car``, ``shock``, ``dist``,
        ``sweep``, ``trials``, ``rolling``), for ``strategy`` (a label; may be left out when one
        strategy has that figure). The figure is the page's own (same data, title and data label)."""
        import plotly.graph_objects as go

        table = self.figures()
        hits = table[(table["kind"] == kind) & ((table["strategy"] == strategy) if strategy is not None else True)]
        if hits.empty:
            kinds = ", ".join(sorted(set(table["kind"])))
            who = f" for strategy {strategy!r}" if strategy is not None else ""
            raise ValueError(f"no figure {kind!r}{who}; kinds: {kinds}; strategies: "
                             f"{', '.join(dict.fromkeys(s for s in table['strategy'] if s))}")
        if len(hits) > 1:
            raise ValueError(f"figure {kind!r} exists for several strategies ({', '.join(hits['strategy'])}): "
                             "give strategy=")
        return go.Figure(self._page[1].figures[hits["id"].iloc[0]])


class Tearsheet:
    """The tearsheet page for display in a notebook: an ``<iframe srcdoc>`` holding the whole
    self-contained page (its own styles and scripts stay inside it)."""

    def __init__(self, text: str) -> None:
        self.html = text

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" style="width:100%;height:{INLINE_HEIGHT}px;'
                'border:1px solid #ddd" sandbox="allow-scripts allow-popups" title="scare tearsheet"></iframe>')

    def __repr__(self) -> str:
        return f"<scare tearsheet: {len(self.html):,d} characters; display it in a notebook or save it with a path>"


def scoped_css(css: str, scope: str) -> str:
    """The page's stylesheet with every selector inside ``scope`` (``:root``, ``body`` and
    ``main`` become the scope itself), so a notebook's own styles are left alone."""
    out = []
    for m in re.finditer(r"(@media[^{]*)\{((?:[^{}]*\{[^{}]*\})*)\s*\}|([^{}@]+)\{([^{}]*)\}", css):
        if m.group(1):
            out.append(f"{m.group(1)}{{{scoped_css(m.group(2), scope)}}}")
            continue
        sels = []
        for sel in m.group(3).split(","):
            sel = sel.strip()
            if not sel:
                continue
            if sel in (":root", "body", "main", "html"):
                sels.append(scope)
            elif sel.startswith(("body ", "main ")):
                sels.append(f"{scope} {sel.split(' ', 1)[1]}")
            else:
                sels.append(f"{scope} {sel}")
        out.append(f"{','.join(sels)}{{{m.group(4)}}}")
    return "".join(out)
