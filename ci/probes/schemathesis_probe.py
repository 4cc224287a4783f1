#!/usr/bin/env python3
"""schemathesis against `meterlab platform`'s GET /openapi.json, on one store.

For each auth mode (with the admin token as bearer, and without any token) it starts the
platform on a fresh, empty database, runs `schemathesis run --checks all` bounded by a number
of examples per operation, a fixed seed, one worker and a wall-clock limit, and summarises the
JUnit report per operation and check with a sample each. Exit 0 only when every run found no
failure and no error.

    python ci/probes/schemathesis_probe.py --store sqlite
    python ci/probes/schemathesis_probe.py --store postgres --auth with --examples 50 --seed 7
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import probelib as lib  # noqa: E402


def schemathesis_cmd() -> str:
    here = Path(sys.executable).parent / "schemathesis"
    if here.exists():
        return str(here)
    found = shutil.which("schemathesis")
    if not found:
        sys.exit("probe: schemathesis is not installed (ci/probes/run.sh sets up the venv)")
    return found


def run_one(store_kind: str, auth: str, args, out: Path) -> dict:
    """One platform on a fresh store, one schemathesis run. Returns the summary."""
    label = f"{store_kind}-{auth}-auth"
    work = out / label
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    token = "probe-admin-" + secrets.token_hex(8)
    store = lib.Store.fresh(store_kind, work, "schemathesis")
    platform = lib.Platform(store, token, work, "platform")
    result = {"store": store_kind, "auth": auth, "ok": False, "failures": [], "errors": [],
              "summary": "", "seconds": 0.0}
    t0 = time.monotonic()
    try:
        url = platform.start()
        # Once per store: in the first (or only) run.
        if auth == ("without" if args.auth == "without" else "with"):
            for op, problem in check_examples(url):
                result["failures"].append({"operation": op, "sample": problem,
                                           "check": "documented example matches its schema"})
        junit = work / "junit.xml"
        # The config (422 counts as accepting schema-valid data that breaks a check-digit or
        # period rule) is passed explicitly so the run does not depend on the working directory.
        cmd = [
            schemathesis_cmd(), "--config-file", str(Path(__file__).parent / "schemathesis.toml"),
            "run", f"{url}/openapi.json",
            "--checks", "all",
            "--max-examples", str(args.examples),
            "--seed", str(args.seed),
            "--workers", "1",
            "--request-timeout", str(args.request_timeout),
            "--generation-database", "none",
            "--continue-on-failure",
            "--no-color",
            "--report", "junit",
            "--report-junit-path", str(junit),
        ]
        if args.phases:
            cmd += ["--phases", args.phases]
        if auth == "with":
            cmd += ["--header", f"Authorization: Bearer {token}"]
        shown = " ".join(c if token not in c else c.replace(token, "$TOKEN") for c in cmd)
        lib.log(f"[{label}] platform {url} on {store.describe()}")
        lib.log(f"[{label}] {shown}")
        stdout = work / "schemathesis.out"
        with open(stdout, "wb") as f:
            try:
                proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=work,
                                      timeout=args.time_limit, stdin=subprocess.DEVNULL)
                rc = proc.returncode
            except subprocess.TimeoutExpired:
                rc = None
        text = stdout.read_text(errors="replace")
        result["summary"] = last_summary(text)
        if rc is None:
            result["errors"].append({"operation": "(run)", "check": "time limit",
                                     "sample": f"schemathesis ran past {args.time_limit} s and was stopped"})
        if not platform.alive():
            result["errors"].append({"operation": "(platform)", "check": "crashed",
                                     "sample": f"the platform died during the run:\n{platform.tail()}"})
        if junit.exists():
            f, e = parse_junit(junit)
            result["failures"] += f
            result["errors"] += e
        elif rc not in (0, None):
            result["errors"].append({"operation": "(run)", "check": f"schemathesis exit {rc}",
                                     "sample": "\n".join(text.splitlines()[-30:])})
        result["exit"] = rc
        result["ok"] = rc == 0 and not result["failures"] and not result["errors"]
    except lib.PlatformDied as e:
        result["errors"].append({"operation": "(platform)", "check": "start", "sample": str(e)})
    finally:
        platform.stop()
        store.close()
        result["seconds"] = round(time.monotonic() - t0, 1)
    return result


def check_examples(url: str) -> list[tuple[str, str]]:
    """Every request body's documented example, validated against the body's schema in the
    platform's own document by jsonschema-rs (formats checked too). Returns the problems."""
    import jsonschema_rs
    import requests

    doc = requests.get(f"{url}/openapi.json", timeout=10).json()
    problems, checked = [], 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            media = op.get("requestBody", {}).get("content", {}).get("application/json")
            if media is None:
                continue
            name = f"{method.upper()} {path}"
            if "example" not in media:
                problems.append((name, "the request body has no documented example"))
                continue
            # The body's schema refers to #/components/...: give it the document's components.
            schema = dict(media["schema"], components=doc["components"])
            validator = jsonschema_rs.validator_for(schema, validate_formats=True)
            errors = [f"{'/'.join(map(str, e.instance_path)) or '(body)'}: {e.message}"
                      for e in validator.iter_errors(media["example"])]
            if errors:
                problems.append((name, "\n".join(errors[:10])))
            checked += 1
    lib.log(f"documented examples: {checked} request bodies validated against their schemas, "
            f"{len(problems)} problem(s)")
    if checked == 0:
        problems.append(("(document)", "no request body example to validate"))
    return problems


def last_summary(text: str) -> str:
    """The closing SUMMARY block of schemathesis' output (counts, warnings)."""
    i = text.rfind("=== SUMMARY ===")
    if i < 0:
        return ""
    block = text[text.rfind("\n", 0, i) + 1:]
    keep = []
    for ln in block.splitlines():
        if ln.strip().startswith(("Reproduce", "curl ")):
            continue
        keep.append(ln)
    return "\n".join(keep).strip()


CASE = re.compile(r"^\d+\. Test Case ID: (\S+)", re.M)
CHECK = re.compile(r"^- (.+)$", re.M)
STATUS = re.compile(r"^\[(\d{3})\] ([^\n]*):$", re.M)
CURL = re.compile(r"^\s+(curl .+)$", re.M)


def parse_junit(path: Path) -> tuple[list[dict], list[dict]]:
    """Failures and errors from schemathesis' JUnit report: one entry per test case and check,
    with the response status, the start of its body and the curl line."""
    failures, errors = [], []
    root = ET.parse(path).getroot()
    for tc in root.iter("testcase"):
        op = tc.get("name", "?")
        for kind, sink in (("failure", failures), ("error", errors)):
            for el in tc.findall(kind):
                text = el.text or el.get("message") or ""
                starts = [m.start() for m in CASE.finditer(text)] or [0]
                for a, b in zip(starts, starts[1:] + [len(text)]):
                    chunk = text[a:b]
                    case = CASE.match(chunk)
                    status = STATUS.search(chunk)
                    body = ""
                    if status:
                        after = chunk[status.end():].strip().splitlines()
                        body = after[0].strip().strip("`") if after else ""
                    curl = CURL.search(chunk)
                    checks = CHECK.findall(chunk) or [el.get("message") or kind]
                    for check in checks:
                        sink.append({
                            "operation": op,
                            "check": check.strip(),
                            "case": case.group(1) if case else "",
                            "status": f"{status.group(1)} {status.group(2)}" if status else "",
                            "body": body[:300],
                            "curl": curl.group(1)[:400] if curl else "",
                            "sample": "" if status or curl else chunk.strip()[:600],
                        })
    return failures, errors


def report(results: list[dict]) -> None:
    for r in results:
        label = f"{r['store']} / {'with' if r['auth'] == 'with' else 'without'} admin token"
        verdict = "PASS" if r["ok"] else "FAIL"
        lib.log(f"\n--- schemathesis {label}: {verdict} in {r['seconds']} s "
                f"({len(r['failures'])} failures, {len(r['errors'])} errors)")
        by_op: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        for f in r["failures"] + r["errors"]:
            by_op[f["operation"]][f["check"]].append(f)
        for op in sorted(by_op):
            lib.log(f"  {op}")
            for check, items in sorted(by_op[op].items()):
                s = items[0]
                lib.log(f"    - {check}  (x{len(items)})")
                if s.get("status"):
                    lib.log(f"        [{s['status']}] {s['body']}")
                if s.get("curl"):
                    lib.log(f"        {s['curl']}")
                if s.get("sample"):
                    for ln in s["sample"].splitlines()[:12]:
                        lib.log(f"        {ln}")
        if r["summary"]:
            lib.log("  schemathesis summary:")
            for ln in r["summary"].splitlines():
                if ln.strip() and not set(ln.strip()) <= set("=━"):
                    lib.log(f"    {ln}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--auth", choices=["both", "with", "without"], default="both")
    ap.add_argument("--examples", type=int, default=int(os.environ.get("MLAB_PROBE_EXAMPLES", "40")),
                    help="max examples per operation and phase (env MLAB_PROBE_EXAMPLES; default 40)")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("MLAB_PROBE_SEED", "20261207")))
    ap.add_argument("--phases", default="examples,coverage,fuzzing,stateful")
    ap.add_argument("--request-timeout", type=float, default=10.0)
    ap.add_argument("--time-limit", type=float, default=240.0, help="wall-clock seconds per run")
    args = ap.parse_args()

    out = lib.out_dir("schemathesis")
    modes = ["with", "without"] if args.auth == "both" else [args.auth]
    results = [run_one(args.store, m, args, out) for m in modes]
    report(results)
    summary = out / f"{args.store}.json"
    summary.write_text(json.dumps(results, indent=1))
    lib.log(f"\nschemathesis probe ({args.store}): reports under {out}; summary {summary}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
