"""The certification kit's evidence, read by readers nobody here wrote (issue 16).

Runs `meterlab certify esp` against the reference ESP as a process of its own (`--run`), on a
few cases so it stays quick (the whole catalogue runs in `cargo test --test certification`),
then reads what the kit wrote:

  junit.xml    with junitparser: one test case per case run, none failed;
  report.json  with `meterlab certify verify` (exit 0), and refused once a byte is changed;
  report.html  in headless Chromium (`--dump-dom`): the page loads and names every case.

Chromium is installed by run.sh where apt can; without it this probe says SKIPPED loudly for
the browser part and checks the rest.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from junitparser import JUnitXml

from probelib import binary, log, out_dir

CASES = ["ESP-ONB-01", "ESP-MAN-01", "ESP-MAN-03", "ESP-HOOK-03"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def statement(port: int) -> str:
    return f"""name: Probe ESP
kbo: "0061.728.424"
webhook_url: http://127.0.0.1:{port}/hooks
services:
  - id: insights
    name: Energy insights
    needs: [day, quarter-hour]
  - id: live
    name: Live power
    needs: [nrt]
claims: [day-data, quarter-hour-data, nrt-stream, webhooks, market-events, renewal]
max_reaction: 2s
"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    return None


def main() -> int:
    bin_ = str(binary())
    work = Path(tempfile.mkdtemp(prefix="mlab-certify-probe-"))
    out = out_dir("certify")
    port = free_port()
    (work / "esp.yaml").write_text(statement(port))
    env = dict(os.environ, MLAB_DATA_DIR=str(work / "data"),
               MLAB_DATABASE=f"sqlite:{work / 'lab.db'}")
    cmd = [bin_, "certify", "esp", "--statement", str(work / "esp.yaml"),
           "--run", f"exec {bin_} esp reference --webhook-listen 127.0.0.1:{port}",
           "--out", str(out)]
    for c in CASES:
        cmd += ["--only", c]
    log(f"certify: {' '.join(cmd[:4])} … ({len(CASES)} cases)")
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    (out / "certify.log").write_text(r.stdout + r.stderr)
    if r.returncode != 0:
        log(f"certify: exit {r.returncode}\n{r.stdout}{r.stderr}")
        return 1
    failures = []

    suite = JUnitXml.fromfile(str(out / "junit.xml"))
    cases = [case for s in suite for case in s]
    names = sorted(c.name.split(":")[0] for c in cases)
    if names != sorted(CASES):
        failures.append(f"junit.xml names {names}, not {sorted(CASES)}")
    bad = [c.name for c in cases if c.result]
    if bad:
        failures.append(f"junit.xml: cases not passed: {bad}")
    log(f"junitparser: {len(cases)} test cases, {len(bad)} not passed")

    v = subprocess.run([bin_, "certify", "verify", str(out / "report.json")], env=env,
                       capture_output=True, text=True)
    if v.returncode != 0 or not v.stdout.startswith("verified:"):
        failures.append(f"certify verify: exit {v.returncode}: {v.stdout}{v.stderr}")
    text = (out / "report.json").read_text()
    tampered = work / "tampered.json"
    tampered.write_text(text.replace('"passed"', '"failed"', 1))
    t = subprocess.run([bin_, "certify", "verify", str(tampered)], env=env,
                       capture_output=True, text=True)
    if t.returncode != 1 or "refused" not in t.stderr:
        failures.append(f"a tampered report was not refused: exit {t.returncode} {t.stderr}")
    log("verify: the report verifies; one changed byte is refused")

    browser = chromium()
    if browser is None:
        print("\n" + "#" * 64 + "\nSKIPPED: report.html in a browser (no chromium)\n" + "#" * 64)
    else:
        d = subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu",
                            "--dump-dom", (out / "report.html").as_uri()],
                           capture_output=True, text=True, timeout=120)
        dom = d.stdout
        missing = [c for c in CASES if f'id="{c}"' not in dom]
        if d.returncode != 0 or "<table" not in dom or missing:
            failures.append(f"{browser}: exit {d.returncode}, cases missing {missing}: "
                            f"{d.stderr[-500:]}")
        else:
            log(f"{browser}: report.html loads; its table names all {len(CASES)} cases")

    shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        log(f"FAIL {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
