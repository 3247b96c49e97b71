#!/usr/bin/env python3
"""Unit test of bench_report.py on fixed inputs (CTest: bench_report_test)."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_report  # noqa: E402


class SummaryTest(unittest.TestCase):
    def test_median_of_odd_count_is_the_middle_value(self):
        s = bench_report.Summary(["3.0", "1.0", "2.5"])
        self.assertEqual(s.median, 2.5)
        self.assertEqual(s.spread(), "1–3")

    def test_median_of_even_count_is_the_mean_of_the_middle_two(self):
        s = bench_report.Summary(["4", "1", "2", "10"])
        self.assertEqual(s.median, 3.0)
        self.assertEqual(s.spread(), "1–10")

    def test_values_that_are_not_numbers_are_left_out(self):
        s = bench_report.Summary([">5", "0.25", "n/a", "0.75", "nan"])
        self.assertEqual(s.numbers, [0.25, 0.75])
        self.assertEqual(s.median, 0.5)
        self.assertEqual(s.spread(), "0.250–0.750")

    def test_no_number_at_all_gives_na(self):
        s = bench_report.Summary(["none", ""])
        self.assertIsNone(s.median)
        self.assertEqual(s.spread(), "n/a")
        self.assertEqual(bench_report.format_number(s.median), "n/a")


class FormatTest(unittest.TestCase):
    def test_precision_follows_magnitude(self):
        f = bench_report.format_number
        self.assertEqual(f(123456.0), "123456")
        self.assertEqual(f(123.456), "123")
        self.assertEqual(f(12.3456), "12.35")
        self.assertEqual(f(0.123456), "0.123")
        self.assertEqual(f(-2.5), "-2.50")


class RatioTest(unittest.TestCase):
    # Per-run ratios 1, 20, 6 (median 6); the ratio of the medians would be
    # 20 / 5 = 4, which pairs figures from different runs.
    FIGURES = [
        ["1", "p", "refresh_s", "10"], ["1", "p", "burst_s", "10"],
        ["2", "p", "refresh_s", "20"], ["2", "p", "burst_s", "1"],
        ["3", "p", "refresh_s", "30"], ["3", "p", "burst_s", "5"],
    ]

    def test_ratio_is_taken_within_each_run(self):
        runs, table, _ = bench_report.collect(self.FIGURES)
        ratios = bench_report.per_run_ratios(table, runs, "p.refresh_s", "p.burst_s")
        self.assertEqual(ratios, [1.0, 20.0, 6.0])
        text = bench_report.render(self.FIGURES, [["r", "p.refresh_s", "p.burst_s"]], [], "c")
        self.assertIn("| r | p.refresh_s / p.burst_s | 6 | 1–20 | 1, 20, 6 |", text)

    def test_missing_or_zero_or_non_numeric_side_gives_none(self):
        figures = [["1", "p", "a", "1"], ["1", "p", "b", "0"],
                   ["2", "p", "a", "n/a"], ["2", "p", "b", "2"],
                   ["3", "p", "a", "4"]]
        runs, table, _ = bench_report.collect(figures)
        self.assertEqual(bench_report.per_run_ratios(table, runs, "p.a", "p.b"),
                         [None, None, None])


class RenderTest(unittest.TestCase):
    maxDiff = None

    def test_report_on_fixed_input(self):
        figures = [
            ["1", "cdc", "cdc_changes_per_s", "1000"],
            ["1", "cdc", "recvlogical_changes_per_s", "2000"],
            ["1", "processor", "freshness_p99_s", "0.5"],
            ["2", "cdc", "cdc_changes_per_s", "3000"],
            ["2", "cdc", "recvlogical_changes_per_s", "3000"],
            ["2", "processor", "freshness_p99_s", ">5"],
            ["3", "cdc", "cdc_changes_per_s", "1800"],
            ["3", "cdc", "recvlogical_changes_per_s", "2000"],
        ]
        ratios = [["cdc / recvlogical", "cdc.cdc_changes_per_s",
                   "cdc.recvlogical_changes_per_s"]]
        machine = [["cores", "2"], ["git commit", "abc1234"]]
        text = bench_report.render(figures, ratios, machine, "suite.sh --runs 3")
        self.assertEqual(text, """\
# Benchmark suite report

Command: `suite.sh --runs 3`

Runs: 3 (1, 2, 3). Medians and spreads (min–max) are over the runs; each ratio is computed within one run, then its median and spread over the runs are given.

## Machine

| | |
| --- | --- |
| cores | 2 |
| git commit | abc1234 |

## Ratios (within each run)

| ratio | numerator / denominator | median | spread | per run |
| --- | --- | --- | --- | --- |
| cdc / recvlogical | cdc.cdc_changes_per_s / cdc.recvlogical_changes_per_s | 0.900 | 0.500–1 | 0.500, 1, 0.900 |

## Figures: cdc

| figure | median | spread | per run |
| --- | --- | --- | --- |
| cdc_changes_per_s | 1800 | 1000–3000 | 1000, 3000, 1800 |
| recvlogical_changes_per_s | 2000 | 2000–3000 | 2000, 3000, 2000 |

## Figures: processor

| figure | median | spread | per run |
| --- | --- | --- | --- |
| freshness_p99_s | 0.500 | 0.500–0.500 | 0.5, >5, — |
""")


class MainTest(unittest.TestCase):
    def test_files_in_report_out(self):
        with tempfile.TemporaryDirectory() as d:
            def write(name, text):
                path = os.path.join(d, name)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
                return path
            figures = write("f.tsv", "# run\tleg\tfigure\tvalue\n1\tx\ta_s\t1.5\n\n2\tx\ta_s\t2.5\n")
            machine = write("m.tsv", "kernel\t6.1.0\n")
            out = os.path.join(d, "report.md")
            rc = bench_report.main(["--figures", figures, "--machine", machine,
                                    "--command", "c", "--out", out])
            self.assertEqual(rc, 0)
            with open(out, encoding="utf-8") as f:
                text = f.read()
            self.assertIn("| kernel | 6.1.0 |", text)
            self.assertIn("| a_s | 2 | 1.50–2.50 | 1.5, 2.5 |", text)

    def test_malformed_line_is_an_error(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "f.tsv")
            with open(path, "w", encoding="utf-8") as f:
                f.write("1\tx\ta_s\n")
            self.assertEqual(bench_report.main(["--figures", path]), 2)


if __name__ == "__main__":
    unittest.main()
