#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Checks contrib/grafana/shardwal.json: valid against dashboard.schema.json
# (the parts we rely on), unique panel ids, no two panels overlapping, and
# (with --promql) every target's PromQL parses: the expressions, with the
# dashboard variables substituted, become recording rules for
# `promtool check rules`.
#
#   /usr/bin/python3 contrib/grafana/check_dashboard.py [--promql PROMTOOL] [DASHBOARD [SCHEMA]]
#
# Needs python3-jsonschema (Debian; scripts/setup.sh installs it). Use the
# system interpreter: a `python3` earlier on PATH (pyenv, venv) may lack it.
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def fail(msg):
    print("check_dashboard: " + msg, file=sys.stderr)
    sys.exit(1)


def main(argv):
    promtool = None
    if len(argv) >= 2 and argv[0] == "--promql":
        promtool, argv = argv[1], argv[2:]
    dashboard_path = argv[0] if len(argv) > 0 else os.path.join(HERE, "shardwal.json")
    schema_path = argv[1] if len(argv) > 1 else os.path.join(HERE, "dashboard.schema.json")
    try:
        import jsonschema
    except ImportError:
        fail("the Python module jsonschema is missing for " + sys.executable +
             ": run scripts/setup.sh (Debian package python3-jsonschema)")
    with open(dashboard_path, encoding="utf-8") as f:
        dashboard = json.load(f)
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(dashboard), key=lambda e: list(e.absolute_path))
    for e in errors:
        print("%s: %s: %s" % (dashboard_path, "/".join(str(p) for p in e.absolute_path) or "(root)", e.message),
              file=sys.stderr)
    if errors:
        fail("%d schema error(s)" % len(errors))

    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    if len(ids) != len(set(ids)):
        fail("panel ids are not unique: %s" % ids)
    cells = {}
    for p in panels:
        g = p["gridPos"]
        if g["x"] + g["w"] > 24:
            fail("panel %r is wider than the 24-column grid" % p["title"])
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    fail("panels %r and %r overlap at (%d, %d)" % (cells[(x, y)], p["title"], x, y))
                cells[(x, y)] = p["title"]
    exprs = [t["expr"] for p in panels if p["type"] != "row" for t in p["targets"]]
    print("check_dashboard: %s: schema ok, %d panels, %d queries" % (dashboard_path, len(panels), len(exprs)))

    if promtool:
        subst = {"$__rate_interval": "1m", "$__interval": "1m", "$instance": "db-01", "$shard": ".*"}
        rules = []
        for i, e in enumerate(exprs):
            for k, v in subst.items():
                e = e.replace(k, v)
            rules.append({"record": "shardwal_dashboard:query%d" % i, "expr": e})
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)  # JSON is YAML
            path = f.name
        try:
            r = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
        finally:
            os.unlink(path)
        if r.returncode != 0:
            fail("a dashboard query does not parse:\n" + r.stdout + r.stderr)
        print("check_dashboard: all %d queries parse (promtool)" % len(exprs))


if __name__ == "__main__":
    main(sys.argv[1:])
