"""The human-readable report: one HTML page, charts as inline SVG (no plotting library needed)."""

from __future__ import annotations

import itertools
from html import escape

WIDTH, HEIGHT = 320, 110


def bars_svg(labels: list[str], expected: list[float], actual: list[float]) -> str:
    """Side-by-side bars of two distributions (shares), baseline grey, window orange."""
    total_e, total_a = sum(expected) or 1, sum(actual) or 1
    e = [v / total_e for v in expected]
    a = [v / total_a for v in actual]
    top = max([*e, *a, 1e-9])
    slot = WIDTH / max(len(labels), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT + 14}" role="img">']
    for i, (ev, av) in enumerate(zip(e, a, strict=True)):
        x = i * slot
        for offset, value, colour in ((0.1, ev, "#9e9e9e"), (0.5, av, "#ef6c00")):
            h = HEIGHT * value / top
            parts.append(
                f'<rect x="{x + slot * offset:.1f}" y="{HEIGHT - h:.1f}" width="{slot * 0.4:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(labels[i])}: {value:.3f}</title></rect>'
            )
    parts.append(f'<line x1="0" y1="{HEIGHT}" x2="{WIDTH}" y2="{HEIGHT}" stroke="#333"/>')
    parts.append("</svg>")
    return "".join(parts)


def _bin_labels(edges: list[float]) -> list[str]:
    bounds = ["-inf", *(f"{e:g}" for e in edges), "inf"]
    return [f"[{lo}, {hi})" for lo, hi in itertools.pairwise(bounds)]


def render_html(report: dict, baseline: dict) -> str:
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Drift report {escape(report['endpoint'])}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px}.bad{background:#ffcdd2}"
        ".grid{display:flex;flex-wrap:wrap;gap:12px}.cell{border:1px solid #eee;padding:4px}</style></head><body>",
        f"<h1>Drift report: {escape(report['endpoint'])}</h1>",
        f"<p>Window {report['window']['start']} to {report['window']['end']}; model quality over "
        f"{report['quality_window']['start']} to {report['quality_window']['end']}. "
        "Bars: baseline (grey) vs window (orange).</p>",
    ]
    status = report.get("status", "ok")
    if status != "ok":
        reason = {"no-baseline": "no baselines yet (published at the first model approval)",
                  "no-data": "no captured traffic in the window"}.get(status, status)  # fmt: skip
        out.append(f"<p><b>Nothing judged: {escape(reason)}.</b></p>")
    for variant, r in report["variants"].items():
        out.append(f"<h2>Variant {escape(variant)}</h2>")
        out.append(
            f"<p>{r['records']} records, {r['rows']} rows, {r['malformed_records']} malformed "
            f"{escape(str(r['malformed_reasons']))}.</p>"
        )
        mq = r["model_quality"]
        out.append(
            f"<p>Model quality: {mq['status']}, {mq['samples']} labelled rows"
            + (
                f"; AUC {mq['auc']:.4f}, precision {mq['precision']:.4f}, recall {mq['recall']:.4f}, F1 {mq['f1']:.4f}"
                if mq["status"] == "ok"
                else ""
            )
            + "</p>"
        )
        if r["status"] != "ok":
            continue
        pd_ = r["prediction_drift"]
        out.append(
            f"<h3>Prediction drift: PSI {pd_['psi']:.4f}, JS {pd_['js']:.4f}{' DRIFT' if pd_['drifted'] else ''}</h3>"
        )
        bins = baseline["score"]["bins"]
        labels = [f"{i / bins:.2f}" for i in range(bins)]
        out.append(bars_svg(labels, baseline["score"]["counts"], pd_["window"]))
        out.append("<h3>Features</h3><table><tr><th>feature</th><th>kind</th><th>PSI</th><th>JS</th>"
                   "<th>drift</th><th>completeness</th><th>type / range violations</th></tr>")  # fmt: skip
        quality = r["data_quality"]["features"]
        charts = []
        for name, d in r["data_drift"]["features"].items():
            q = quality.get(name)
            bad = " class='bad'" if d["drifted"] or (q and q["violated"]) else ""
            qtext = (
                (f"<td>{q['completeness']:.3f}</td><td>{q['type_violations']} / {q['range_violations']}</td>")
                if q
                else "<td></td><td></td>"
            )
            out.append(
                f"<tr{bad}><td>{escape(name)}</td><td>{d['kind']}</td><td>{d['psi']:.4f}</td><td>{d['js']:.4f}</td>"
                f"<td>{'yes' if d['drifted'] else ''}</td>{qtext}</tr>"
            )
            if d["kind"] == "numeric":
                spec = baseline["numeric"][name]
                chart = bars_svg(_bin_labels(spec["edges"]), spec["counts"], d["window"])
            else:
                expected = baseline["categorical"][name]
                chart = bars_svg(d["categories"], [expected.get(k, 0) for k in d["categories"]], d["window"])
            charts.append(f"<div class='cell'><b>{escape(name)}</b><br>{chart}</div>")
        out.append("</table><h3>Distributions</h3><div class='grid'>" + "".join(charts) + "</div>")
    out.append("</body></html>")
    return "\n".join(out)
