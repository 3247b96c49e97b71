#!/usr/bin/env python3
"""Markdown report of a benchmark suite run (tests/bench/suite.sh).

Reads the figures every run produced and writes each figure's median and
spread (min-max) over the runs, and each ratio computed within one run (both
sides from the same run, so a slow run does not pair with a fast one), then
summarized by the median of those per-run ratios.

  bench_report.py --figures FIGURES.tsv --ratios RATIOS.tsv \
      --machine MACHINE.tsv --command 'tests/bench/suite.sh ...' [--out FILE]

FIGURES.tsv  one line per figure and run: run <TAB> leg <TAB> figure <TAB> value
             (value as the benchmark printed it; a value that is not a number,
             such as ">5" or "n/a", is listed but left out of the median).
RATIOS.tsv   one line per ratio: name <TAB> leg.figure <TAB> leg.figure
             (numerator, denominator).
MACHINE.tsv  one line per fact: name <TAB> value (kept in file order).
Lines starting with '#' and empty lines are ignored in all three.
"""

import argparse
import math
import statistics
import sys


def parse_number(text):
    """The value as a float, or None when it is not a finite number."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def format_number(value):
    """Short, fixed-precision text: whole numbers stay whole."""
    if value is None:
        return "n/a"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


class Summary:
    """Median and spread of the numeric values among `values` (run order)."""

    def __init__(self, values):
        self.values = list(values)
        numbers = [parse_number(v) for v in self.values]
        self.numbers = [n for n in numbers if n is not None]
        self.median = statistics.median(self.numbers) if self.numbers else None
        self.low = min(self.numbers) if self.numbers else None
        self.high = max(self.numbers) if self.numbers else None

    def spread(self):
        if not self.numbers:
            return "n/a"
        return f"{format_number(self.low)}–{format_number(self.high)}"


def read_rows(path, columns):
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != columns:
                raise ValueError(
                    f"{path}:{number}: expected {columns} tab-separated fields, "
                    f"got {len(fields)}")
            rows.append(fields)
    return rows


def collect(figure_rows):
    """(runs in first-seen order, {leg: {figure: {run: value}}}, legs in order)."""
    runs, legs, table = [], [], {}
    for run, leg, figure, value in figure_rows:
        if run not in runs:
            runs.append(run)
        if leg not in table:
            legs.append(leg)
            table[leg] = {}
        table[leg].setdefault(figure, {})[run] = value
    return runs, table, legs


def per_run_ratios(table, runs, numerator, denominator):
    """One ratio per run: numerator / denominator of that same run, else None."""
    def lookup(ref, run):
        leg, _, figure = ref.partition(".")
        return parse_number(table.get(leg, {}).get(figure, {}).get(run))

    ratios = []
    for run in runs:
        a, b = lookup(numerator, run), lookup(denominator, run)
        ratios.append(a / b if a is not None and b not in (None, 0) else None)
    return ratios


def render(figure_rows, ratio_rows, machine_rows, command):
    runs, table, legs = collect(figure_rows)
    out = ["# Benchmark suite report", "",
           f"Command: `{command}`", "",
           f"Runs: {len(runs)} ({', '.join(runs)}). Medians and spreads "
           "(min–max) are over the runs; each ratio is computed within one "
           "run, then its median and spread over the runs are given.", "",
           "## Machine", "", "| | |", "| --- | --- |"]
    out += [f"| {name} | {value} |" for name, value in machine_rows]
    if ratio_rows:
        out += ["", "## Ratios (within each run)", "",
                "| ratio | numerator / denominator | median | spread | per run |",
                "| --- | --- | --- | --- | --- |"]
        for name, numerator, denominator in ratio_rows:
            ratios = per_run_ratios(table, runs, numerator, denominator)
            texts = [format_number(r) for r in ratios]
            s = Summary([str(r) if r is not None else "n/a" for r in ratios])
            out.append(f"| {name} | {numerator} / {denominator} | "
                       f"{format_number(s.median)} | {s.spread()} | "
                       f"{', '.join(texts)} |")
    for leg in legs:
        out += ["", f"## Figures: {leg}", "",
                "| figure | median | spread | per run |",
                "| --- | --- | --- | --- |"]
        for figure, by_run in table[leg].items():
            values = [by_run.get(run, "—") for run in runs]
            s = Summary(values)
            out.append(f"| {figure} | {format_number(s.median)} | {s.spread()} "
                       f"| {', '.join(values)} |")
    return "\n".join(out) + "\n"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--figures", required=True)
    parser.add_argument("--ratios")
    parser.add_argument("--machine")
    parser.add_argument("--command", default="")
    parser.add_argument("--out", help="write here instead of stdout")
    args = parser.parse_args(argv)
    try:
        figures = read_rows(args.figures, 4)
        ratios = read_rows(args.ratios, 3) if args.ratios else []
        machine = read_rows(args.machine, 2) if args.machine else []
    except (OSError, ValueError) as e:
        print(f"bench_report: {e}", file=sys.stderr)
        return 2
    text = render(figures, ratios, machine, args.command)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
