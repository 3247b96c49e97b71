"""Every metric an alert rule or the dashboard uses is one the code registers.

Usage: check_metric_names.py REPO_ROOT [--dashboard-rules OUT]. Reads the
names registered through MetricsRegistry::AddCounter/AddGauge/AddHistogram
in cdc/ and processor/ (the name is the call's first argument, a string
literal), then every `enrich_*` name in the expressions of
deploy/prometheus/*-rules.yml and deploy/grafana/*.json. A histogram is
used through its _bucket, _sum or _count series. Exits 1 naming each unknown
name, or when the source yields no names at all (the extraction broke).
With --dashboard-rules, also writes the dashboard's expressions as recording
rules ($__rate_interval as 5m), for `promtool check rules` to parse.
"""

import json
import pathlib
import re
import sys

REGISTRATION = re.compile(
    r'Add(Counter|Gauge|Histogram)\(\s*"(enrich_[a-z0-9_]+)"', re.S)
USE = re.compile(r'\b(enrich_[a-z0-9_]+)\b')


def registered(root):
    names = {}
    for d in ("cdc", "processor"):
        for path in (root / d).rglob("*.cc"):
            for kind, name in REGISTRATION.findall(path.read_text()):
                names[name] = kind
    return names


def allowed(names):
    ok = set()
    for name, kind in names.items():
        if kind == "Histogram":
            ok |= {name + s for s in ("_bucket", "_sum", "_count")}
        else:
            ok.add(name)
    return ok


def rule_exprs(path):
    # The rules are YAML; the expressions are the only `expr:` values, and
    # the folded ones continue on more-indented lines. A line scan avoids
    # needing PyYAML here.
    exprs, current, indent = [], None, 0
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if current is not None:
            if stripped and len(line) - len(line.lstrip()) > indent:
                if not stripped.startswith("#"):
                    current.append(stripped)
                continue
            exprs.append(" ".join(current))
            current = None
        if stripped.startswith("expr:"):
            value = stripped[len("expr:"):].strip()
            indent = len(line) - len(line.lstrip())
            if value in (">-", ">", "|", "|-"):
                current = []
            else:
                exprs.append(value)
    if current is not None:
        exprs.append(" ".join(current))
    return exprs


def dashboard_exprs(path):
    exprs = []
    for panel in json.loads(path.read_text())["panels"]:
        exprs += [t["expr"] for t in panel.get("targets", [])]
    return exprs


def main(argv):
    root = pathlib.Path(argv[1])
    names = registered(root)
    if len(names) < 20:
        print(f"check_metric_names: only {len(names)} registered names found",
              file=sys.stderr)
        return 1
    ok = allowed(names)
    uses = {}
    for path in sorted((root / "deploy/prometheus").glob("*-rules.yml")):
        uses[path] = rule_exprs(path)
    dashboards = sorted((root / "deploy/grafana").glob("*.json"))
    for path in dashboards:
        uses[path] = dashboard_exprs(path)
    problems = 0
    for path, exprs in uses.items():
        if not exprs:
            print(f"check_metric_names: no expressions in {path}", file=sys.stderr)
            problems += 1
        for expr in exprs:
            for name in USE.findall(expr):
                if name not in ok:
                    print(f"check_metric_names: {path.relative_to(root)}: "
                          f"{name} is not registered by the code",
                          file=sys.stderr)
                    problems += 1
    if "--dashboard-rules" in argv:
        out = pathlib.Path(argv[argv.index("--dashboard-rules") + 1])
        lines = ["groups:", "  - name: dashboard", "    rules:"]
        for i, expr in enumerate(e for p in dashboards
                                 for e in dashboard_exprs(p)):
            expr = expr.replace("$__rate_interval", "5m")
            lines += [f"      - record: dashboard_expr_{i}",
                      f"        expr: {json.dumps(expr)}"]
        out.write_text("\n".join(lines) + "\n")
    total = sum(len(e) for e in uses.values())
    if problems == 0:
        print(f"metric names: {total} expressions use only the "
              f"{len(names)} registered metrics")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
