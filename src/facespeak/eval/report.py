"""A self-contained HTML report of a talking-face evaluation (plots embedded as PNG data URIs).

Sections: header (command, date), optional named tables (the protocol's Table 1 / Table 3),
summary (``results["summary"]``: means over the rows the caller summarised, FID, Fig. 5
numbers), the per-video results table (``id="results"``), the Fig. 5 speaker-feature map (2-D PCA of ``f`` beside ``f_id``, one colour per identity), and per video a
plot of mouth opening against the speech envelope and of the head-pose curves. Lip numbers are
labelled as the proxy they are (never "LSE-C").
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from .metrics.face import pca_2d

__all__ = ["ROW_COLUMNS", "format_cell", "write_report", "html_table"]

#: (key, header) of the per-video table, in order; absent keys are skipped.
ROW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("system", "system"), ("id", "id"), ("person", "person"), ("generated", "generated"),
    ("duration_s", "seconds"), ("face_found", "face found"),
    ("lip_peak_corr", "lip proxy r (not LSE-C)"), ("lip_lag_frames", "lip lag (frames)"),
    ("lip_silence_closure", "closed in silence"), ("lip_bilabial_closure", "closed on p/b/m"),
    ("id_sim", "ID-SIM"), ("id_distance", "dlib distance"), ("lmd_mouth", "LMD mouth %"),
    ("div_deg", "DIV (deg)"), ("jitter", "jitter %"), ("wer", "WER"), ("c_sim", "C-SIM"),
    ("f0_rmse_hz", "F0 RMSE Hz"), ("mcd_db", "MCD dB"), ("median_f0_hz", "median F0 Hz"),
    ("face_gender", "face gender"), ("gender_agrees", "voice-face gender agrees"),
)


def format_cell(v: Any) -> str:
    """A metric value as table text: n/a for None (or not finite), yes/no, integers as is, floats to 3 decimals."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return "n/a" if not np.isfinite(v) else f"{v:.3f}"
    return html.escape(str(v))


def html_table(columns: list[tuple[str, str]], rows: list[dict[str, Any]], table_id: str) -> str:
    """An HTML table of ``rows`` with ``(key, header)`` columns (keys no row has are dropped)."""
    cols = [(k, h) for k, h in columns if any(k in r for r in rows)]
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h in cols)
    body = "".join("<tr>" + "".join(f"<td>{format_cell(r.get(k))}</td>" for k, _ in cols) + "</tr>" for r in rows)
    return f'<table id="{html.escape(table_id)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _curve_plot(name: str, c: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    t = np.arange(len(c["opening"])) / float(c["fps"])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 2.6))
    ax.plot(t, c["opening"], color="tab:red", label="mouth opening (gap / width)")
    ax.set_xlabel("s")
    ax.set_ylabel("mouth opening", color="tab:red")
    ax2 = ax.twinx()
    ax2.plot(t, c["envelope_db"], color="tab:blue", alpha=0.7)
    ax2.set_ylabel("speech envelope dB", color="tab:blue")
    ax.set_title(f"{name}: mouth vs speech")
    pose = np.asarray(c["pose"], float).reshape(-1, 3)
    for k, label in enumerate(("yaw", "pitch", "roll")):
        bx.plot(t, pose[:, k], label=label)
    bx.set_xlabel("s")
    bx.set_ylabel("degrees")
    bx.set_title("head pose")
    bx.legend(fontsize=7, loc="upper right")
    return _png(fig)


def _feature_plot(labels: list[str], f: np.ndarray, f_id: np.ndarray, numbers: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    names = sorted(set(labels))
    lab = np.asarray(labels)
    for ax, feats, key, title in ((axes[0], f, "within_identity_variance_f", "f (motion kept)"),
                                  (axes[1], f_id, "within_identity_variance_f_id", "f_id (motion removed)")):
        proj, ratio = pca_2d(feats)
        for k, name in enumerate(names):
            m = lab == name
            ax.scatter(proj[m, 0], proj[m, 1], s=14, color=plt.cm.tab10(k % 10), label=name)
        ax.set_title(f"{title}: within-identity variance {numbers[key]:.2f}")
        ax.set_xlabel(f"PC1 ({100 * ratio[0]:.0f} %)")
        ax.set_ylabel(f"PC2 ({100 * ratio[1]:.0f} %)")
    axes[1].legend(fontsize=7, loc="best")
    return _png(fig)


_CSS = ("body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}"
        "td,th{border:1px solid #bbb;padding:3px 7px;font-size:13px;text-align:right}th{background:#eee}"
        "img{max-width:100%;display:block;margin:6px 0 18px}code{background:#f3f3f3}")


def _summary_html(results: dict[str, Any]) -> str:
    summary = results.get("summary") or {}
    rows = [{"metric": k, "mean": v} for k, v in summary.items()]
    parts = ["<h2>Summary (mean over videos)</h2>", html_table([("metric", "metric"), ("mean", "mean")], rows, "summary")]
    fid = results.get("fid")
    parts.append(f"<p>FID (generated frames vs reference frames, TF-Inception pool3): <b>{format_cell(fid)}</b></p>")
    fm = results.get("feature_map")
    if fm:
        parts.append(f"<p>Identity features, {fm['identities']} identities / {fm['points']} frames: within-identity "
                     f"variance share f = <b>{format_cell(fm['within_identity_variance_f'])}</b>, f_id = "
                     f"<b>{format_cell(fm['within_identity_variance_f_id'])}</b> (lower = tighter clusters).</p>")
    return "".join(parts)


def write_report(results: dict[str, Any], curves: dict[str, dict[str, Any]], path: str | Path,
                 features: tuple[list[str], np.ndarray, np.ndarray] | None = None,
                 tables: dict[str, tuple[list[tuple[str, str]], list[dict[str, Any]]]] | None = None,
                 title: str = "facespeak evaluation", max_plots: int = 12) -> Path:
    """Write the HTML report of ``results`` (``rows``, ``summary``, ``fid``, ``feature_map``,
    ``command``, ``created``) with per-video ``curves`` (``opening``, ``envelope_db``, ``pose``,
    ``fps``) -> the written path."""
    import matplotlib

    matplotlib.use("Agg")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>command: <code>{html.escape(str(results.get('command', '')))}</code><br>created: "
             f"{html.escape(str(results.get('created', '')))}</p>"]
    for name, (cols, rows) in (tables or {}).items():
        parts += [f"<h2>{html.escape(name)}</h2>", html_table(cols, rows, name.split(":")[0].lower().replace(" ", "-"))]
    parts.append(_summary_html(results))
    parts += ["<h2>Per video</h2>", html_table(list(ROW_COLUMNS), results.get("rows", []), "results"),
              "<p>The lip-sync numbers are a <b>proxy</b> (mouth opening from the face mesh against the speech "
              "energy envelope), not SyncNet's LSE-C.</p>"]
    if features is not None and results.get("feature_map"):
        parts += ["<h2>Speaker-feature map (paper Fig. 5)</h2>",
                  f"<img alt='feature map' src='{_feature_plot(*features, results['feature_map'])}'>"]
    if curves:
        parts.append("<h2>Mouth opening vs speech envelope, head pose</h2>")
        for name, c in list(curves.items())[:max_plots]:
            parts.append(f"<img alt='{html.escape(name)}' src='{_curve_plot(name, c)}'>")
    parts.append("</body></html>")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(parts), encoding="utf-8")
    return out
