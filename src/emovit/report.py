"""Everything emovit prints or writes for people and scripts to read: the results tables of runs, the
baseline study, the profile table, and predictions as a table, JSON or CSV."""
from __future__ import annotations

import csv
import io
import json

# ----------------------------------------------------------------------------------------------
# runs


def _score_cell(value) -> str:
    return f"{value['mean']:.3f} ± {value['std']:.3f}" if isinstance(value, dict) else f"{value:.3f}"


def split_line(summary: dict) -> str:
    sizes = summary.get("sizes", {})
    speakers = summary.get("speakers", {})
    return "; ".join(f"{part} {sizes.get(part, '?')} clips / {len(speakers.get(part, []))} speakers"
                     for part in ("train", "val", "test"))


def results_markdown(results: dict) -> str:
    """The paper's Table 2 layout: one row per model, with the protocol stated; then per corpus, the
    cosine to the teacher, the timing, and (for compare) what each row is."""
    split = results["split"]
    where = (f"{len(results['folds'])} folds (each fold's split and results under folds/)" if "folds" in results
             else split_line(split))
    lines = [f"# Results — protocol `{results['protocol']}`" + (f", fold {results['fold']}" if results.get("fold") else ""),
             "", f"Split: {where}", f"Leakage audit: {results['leakage'].get('verdict', '')}", "",
             "| Model | Params (M) | GMACs | WA | UA | macro-F1 | epochs | train time (s) |",
             "|---|---|---|---|---|---|---|---|"]
    models = results["models"]
    timed = any("ms_per_clip" in m for m in models.values())
    if timed:
        lines[-2:] = [lines[-2] + " CPU ms/clip |", lines[-1] + "---|"]
    for m in models.values():
        params = f"{m['params_m']:.2f}" if "params_m" in m else "—"
        gmacs = f"{m['gmacs']:.2f}" if "gmacs" in m else "—"
        epochs = "+".join(str(v) for v in m.get("epochs", {}).values()) or "—"
        scores = " | ".join(_score_cell(m[k]) for k in ("wa", "ua", "macro_f1"))
        row = f"| {m['title']} | {params} | {gmacs} | {scores} | {epochs} | {m['train_seconds']:.0f} |"
        if timed:
            row += f" {m['ms_per_clip']:.1f} |" if "ms_per_clip" in m else " — |"
        lines.append(row)
    pooled = {k: m["pooled"] for k, m in models.items() if "pooled" in m}
    if pooled:
        lines += ["", "Scores are mean ± std over folds. Pooled over all folds (one confusion matrix): "
                  + ", ".join(f"{k} WA {p['wa']:.3f} / UA {p['ua']:.3f}" for k, p in pooled.items())]
    if "folds" in results:
        folds = results["folds"]
        lines += ["", "Per fold (UA / WA):", "", "| Model | " + " | ".join(f"fold {f}" for f in folds) + " |",
                  "|---|" + "---|" * len(folds)]
        lines += [f"| {m['title']} | " + " | ".join(f"{ua:.3f} / {wa:.3f}" for ua, wa in
                                                  zip(m["ua"]["folds"], m["wa"]["folds"])) + " |"
                  for m in models.values() if isinstance(m.get("ua"), dict)]
    per_corpus = {k: m["per_corpus"] for k, m in models.items() if "per_corpus" in m}
    if per_corpus:
        corpora = sorted({c for v in per_corpus.values() for c in v})
        lines += ["", "Per corpus of the test part (UA / WA):", "",
                  "| Model | " + " | ".join(corpora) + " |", "|---|" + "---|" * len(corpora)]
        lines += [f"| {models[k]['title']} | "
                  + " | ".join(f"{v[c]['ua']:.3f} / {v[c]['wa']:.3f} (n={v[c]['n']})" if c in v else "—"
                               for c in corpora) + " |" for k, v in per_corpus.items()]
    cos = {k: m["cosine_to_teacher"]["mean"] for k, m in models.items() if "cosine_to_teacher" in m}
    if cos:
        lines += ["", "Cosine similarity of pooled test features to the teacher's: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in cos.items())]
    lines += paired_markdown(results.get("paired", []), pooled="folds" in results)
    if "timing" in results:
        lines += ["", "Time (s): " + ", ".join(f"{k.replace('_seconds', '')} {v:.0f}" for k, v in results["timing"].items())]
    config = results.get("config", {})
    descriptions = config.get("descriptions", {})
    if descriptions:
        lines.append("")
        for name, m in models.items():
            stages = " + ".join(f"{s} ({e} epochs)" for s, e in m.get("epochs", {}).items())
            lines.append(f"- **{m['title']}**: {descriptions.get(name, m['title'])}"
                         + (f"; trained by {stages}" if stages else ""))
    first = next((m for m in models.values() if "ms_per_clip" in m), None)
    if first:
        lines += ["", f"CPU ms/clip: one clip (batch 1) after warm-up, median of {first['runs']} runs, "
                  f"{first['threads']} thread(s), on {config.get('machine', {}).get('cpu', '?')}. "
                  "GMACs: layers with weights, one forward pass (see `emovit profile`)."]
    return "\n".join(lines) + "\n"


def paired_line(pair: dict, a: str, b: str) -> str:
    """One pair said in words: the clips each gets right that the other does not, and the p-value."""
    n = pair["n"]
    return (f"{a} {pair['a_right'] / n:.3f} against {b} {pair['b_right'] / n:.3f} on {n} clips: {a} alone right on "
            f"{pair['a_only']}, {b} alone on {pair['b_only']}; exact McNemar p = {pair['p']:.3g}")


def paired_markdown(pairs: list[dict], pooled: bool) -> list[str]:
    """The section results.md gives the pairs of a run's models."""
    if not pairs:
        return []
    lines = ["", "Paired on the same test clips (exact McNemar test on the clips one model gets right and the "
             "other wrong" + ("; every fold's clips together):" if pooled else "):"), "",
             "| A | B | clips | accuracy A / B | A alone right | B alone right | p |", "|---|---|---|---|---|---|---|"]
    for p in pairs:
        lines.append(f"| {p['a']} | {p['b']} | {p['n']} | {p['a_right'] / p['n']:.3f} / {p['b_right'] / p['n']:.3f} "
                     f"| {p['a_only']} | {p['b_only']} | {p['p']:.3g} |")
    return lines


def baseline_markdown(study: dict, corpus: str) -> str:
    """`emovit baseline`: the classical reference over seeds or folds."""
    over = f"{len(study['runs'])} folds" if study.get("folds") else f"seeds {study['seeds']}"
    cells = " | ".join(f"{study[k]['mean']:.3f} ± {study[k]['std']:.3f}" for k in ("wa", "ua", "macro_f1"))
    pooled = study["pooled"]
    return (f"# {study['title']} on {corpus} — protocol `{study['protocol']}`\n\n"
            f"| model | WA | UA | macro-F1 | over | pooled WA | pooled UA |\n|---|---|---|---|---|---|---|\n"
            f"| {study['title']} | {cells} | {over} | {pooled['wa']:.3f} | {pooled['ua']:.3f} |\n")


# ----------------------------------------------------------------------------------------------
# profile


def profile_table(rows: list[dict], timed: bool, runs: int, threads: int) -> str:
    """`emovit profile`'s table: sizes next to the paper's Table 3, each as a multiple of the student's."""
    lines = [f"{'model':<19} {'params (M)':>10} {'GMACs':>8} {'all':>8} {'run':>8}   {'paper M':>7} {'paper G':>7}"
             + (f" {'ms/clip':>9}" if timed else "") + f"   {'params×':>8} {'GMACs×':>8}"
             + (f" {'time×':>8}" if timed else "")]
    for r in rows:
        paper = (f"{r['paper_params_m']:>7.1f} {r['paper_gmacs']:>7.1f}" if "paper_params_m" in r else " " * 15)
        line = f"{r['model']:<19} {r['params_m']:>10.3f} {r['gmacs']:>8.3f} {r['gmacs_all']:>8.3f} {r['gmacs_run']:>8.3f}   {paper}"
        line += f" {r['ms_per_clip']:>9.1f}" if timed else ""
        if "params_vs_student" in r:
            line += f"   {r['params_vs_student']:>8.1f} {r['gmacs_vs_student']:>8.1f}"
            line += f" {r['time_vs_student']:>8.1f}" if timed else ""
        lines.append(line)
    lines.append("GMACs: layers with weights (as the paper counts); all: with attention's products; "
                 "run: every product emovit's forward pass does. ×: multiple of the student's.")
    lines += [f"note ({r['model']}): {r['note']}" for r in rows if "note" in r]
    if timed:
        lines.append(f"time: batch 1, median of {runs} runs after warm-up, {threads} thread(s), on this machine's CPU")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# predictions


def _csv_line(values: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


class PredictionWriter:
    """`emovit predict`'s output, one file at a time as results come: an aligned table, CSV (a row per
    file, then a row per timeline window), or a JSON list printed at the end (empty when every file
    failed).  The table's and the CSV's header come with the first result, so a run where every file
    fails prints only the errors."""

    FORMATS = ("table", "json", "csv")

    def __init__(self, fmt: str, labels: list[str], files: list[str], timeline: bool, echo):
        if fmt not in self.FORMATS:
            raise ValueError(f"unknown output format {fmt!r}; choose from {', '.join(self.FORMATS)}")
        self.fmt, self.labels, self.timeline, self.echo = fmt, labels, timeline, echo
        self.name_width = max(len("file"), *(len(f) for f in files), 16 if timeline else 0)
        self.label_width = max(len("label"), *(len(label) for label in labels))
        self.records: list[dict] = []
        self.started = False

    def _header(self) -> None:
        if self.fmt == "csv":
            extra = ["start", "end"] if self.timeline else []
            self.echo(_csv_line(["file", "label", "duration", *extra, *self.labels]), nl=False)
        elif self.fmt == "table":
            self.echo(f"{'file':<{self.name_width}}  {'label':<{self.label_width}}  {'prob':>5}  {'duration':>9}")

    def add(self, file: str, prediction) -> None:
        if not self.started:
            self._header()
            self.started = True
        if self.fmt == "json":
            self.records.append({"file": file, **prediction.to_dict()})
        elif self.fmt == "csv":
            blank = ["", ""] if self.timeline else []
            self.echo(_csv_line([file, prediction.label, round(prediction.duration, 3), *blank,
                                 *(prediction.probabilities[label] for label in self.labels)]), nl=False)
            for s in prediction.timeline or []:
                self.echo(_csv_line([file, s.label, round(s.end - s.start, 3), round(s.start, 3), round(s.end, 3),
                                     *(s.probabilities[label] for label in self.labels)]), nl=False)
        else:
            self.echo(f"{file:<{self.name_width}}  {prediction.label:<{self.label_width}}  "
                      f"{prediction.probabilities[prediction.label]:>5.2f}  {prediction.duration:>7.1f} s")
            for s in prediction.timeline or []:
                span = f"  {s.start:.1f}-{s.end:.1f} s"
                self.echo(f"{span:<{self.name_width}}  {s.label:<{self.label_width}}  {s.probabilities[s.label]:>5.2f}")

    def close(self) -> None:
        if self.fmt == "json":
            self.echo(json.dumps(self.records, indent=2))


# ----------------------------------------------------------------------------------------------
# training speed


def training_speed_table(result: dict) -> str:
    """`emovit benchmark training`: clips/s and the fraction of the measured peak, per network."""
    lines = [f"machine: {result['cpu']} ({', '.join(result['cpu_flags']) or 'no flags read'}), {result['threads']} "
             f"thread(s), torch {result['torch']}, {result['precision']}",
             f"peak: {result['peak_gmacs_per_s']:.1f} GMAC/s (fp32 matmul, the faster of "
             + ", ".join(f"{k} {v:.1f}" for k, v in result["peak_by_backend"].items()) + ")"
             + (f"; bf16 {result['peak_bf16_gmacs_per_s']:.1f}" if "peak_bf16_gmacs_per_s" in result else ""),
             "", f"{'model':<9} {'batch':>5} {'clips/s':>9} {'of peak':>8}"]
    for name in ("teacher", "student"):
        if name not in result:
            continue
        for size, f in result[name]["batches"].items():
            best = " (best)" if int(size) == result[name]["batch_size"] else ""
            lines.append(f"{name:<9} {size:>5} {f['clips_per_s']:>9.1f} {f['peak_fraction']:>7.0%}{best}")
    minutes = result.get("paper_recipe_minutes")
    if minutes:
        lines += ["", f"the EmoDB `paper` recipe (3 x 50 epochs, batch 4) from these figures: {minutes['total']:.1f} min "
                  f"(teacher {minutes['teacher']:.1f}, its features {minutes['features']:.1f}, student {minutes['student']:.1f}, "
                  f"CE-only student {minutes['plain']:.1f}, test {minutes['test']:.1f})"]
    lines.append("load average before / after: " + " / ".join(
        ", ".join(f"{x:.2f}" for x in result.get(k) or []) for k in ("load_average_before", "load_average_after")))
    return "\n".join(lines)
