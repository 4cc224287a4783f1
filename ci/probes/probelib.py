"""Shared plumbing for the outside probes: the platform process, fresh stores, DB queries.

Stdlib only (the probes' HTTP client is `requests`, imported by the probes themselves), so
this module also works from a plain `python3` for ad-hoc use.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "p1"


def binary() -> Path:
    """The meterlab binary: $MLAB_BIN, else target/debug/meterlab of this checkout."""
    b = Path(os.environ.get("MLAB_BIN", ROOT / "target" / "debug" / "meterlab"))
    if not b.is_absolute():
        b = ROOT / b
    if not os.access(b, os.X_OK):
        sys.exit(f"probe: no meterlab binary at {b} (build it: cargo build --locked -p scenarios; or set MLAB_BIN)")
    return b


def out_dir(sub: str) -> Path:
    """Where a probe writes its logs and reports: $MLAB_PROBE_OUT (default ci/probes/out)/sub."""
    base = Path(os.environ.get("MLAB_PROBE_OUT", ROOT / "ci" / "probes" / "out"))
    d = base / sub
    d.mkdir(parents=True, exist_ok=True)
    return d


def log(msg: str) -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------------------------------------
# Stores


@dataclass
class Store:
    """A fresh, empty database for one probe run: an SQLite file or a new PostgreSQL database
    on the server of $MLAB_PG_URL. `close()` drops the PostgreSQL database (unless
    MLAB_PROBE_KEEP_DB=1); SQLite files stay in the output directory for a post-mortem."""

    kind: str  # "sqlite" | "postgres"
    url: str  # what `meterlab platform --database` takes
    path: Path | None = None  # SQLite file
    pg_admin_url: str | None = None
    pg_name: str | None = None
    _sqlite: sqlite3.Connection | None = field(default=None, repr=False)

    @staticmethod
    def fresh(kind: str, where: Path, label: str) -> "Store":
        if kind == "sqlite":
            path = where / f"{label}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            return Store(kind, f"sqlite:{path}", path=path)
        if kind == "postgres":
            admin = os.environ.get("MLAB_PG_URL")
            if not admin:
                raise RuntimeError("MLAB_PG_URL is unset")
            name = f"mlab_probe_{label.replace('-', '_')}_{os.getpid()}_{secrets.token_hex(3)}".lower()
            psql(admin, f'CREATE DATABASE "{name}"')
            parts = urllib.parse.urlsplit(admin)
            url = urllib.parse.urlunsplit(parts._replace(path="/" + name))
            return Store(kind, url, pg_admin_url=admin, pg_name=name)
        raise ValueError(f"unknown store kind {kind!r} (sqlite or postgres)")

    def query(self, sql: str) -> list[tuple]:
        """Rows of a SELECT, as tuples of str (SQLite values as stored; PostgreSQL as text)."""
        if self.kind == "sqlite":
            if self._sqlite is None:
                self._sqlite = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            return [tuple(r) for r in self._sqlite.execute(sql).fetchall()]
        out = psql(self.url, sql, csv_out=True)
        rows = list(csv.reader(io.StringIO(out)))
        return [tuple(r) for r in rows[1:]]  # the first row is the header

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        if self.kind == "postgres" and self.pg_name and os.environ.get("MLAB_PROBE_KEEP_DB") != "1":
            try:
                psql(self.pg_admin_url, f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
            except Exception as e:  # a leftover database is not worth failing a probe over
                log(f"probe: could not drop {self.pg_name}: {e}")

    def describe(self) -> str:
        return str(self.path) if self.kind == "sqlite" else f"{self.pg_name} (PostgreSQL)"


def psql(url: str, sql: str, csv_out: bool = False) -> str:
    cmd = ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    cmd += ["--csv"] if csv_out else ["-At"]
    cmd += ["-c", sql]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"psql failed ({r.returncode}): {r.stderr.strip()} [{sql[:80]}]")
    return r.stdout


# ---------------------------------------------------------------------------------------------
# The platform process


class PlatformDied(RuntimeError):
    pass


class Platform:
    """`meterlab platform` on a store: HTTP on a free loopback port, no MQTT broker (unless
    `mqtt` says otherwise), logs to files in `logs`."""

    def __init__(self, store: Store, admin_token: str, logs: Path, name: str,
                 dongles: list[str] | None = None, mqtt: str = "none"):
        self.store = store
        self.admin_token = admin_token
        self.logs = logs
        self.name = name
        self.dongles = dongles or []
        self.mqtt = mqtt
        # One MQTT session per platform of a probe run, the same across its restarts: the
        # broker keeps what was published while it was down under this id.
        self.mqtt_client_id = f"meterlab-probe-{name}-{secrets.token_hex(4)}"
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.starts = 0

    def start(self, timeout: float = 90.0) -> str:
        """Starts the platform and waits for its `api:` line and a healthy /health."""
        self.starts += 1
        stem = self.logs / f"{self.name}.{self.starts}"
        self.stdout_path = Path(f"{stem}.stdout")
        self.stderr_path = Path(f"{stem}.stderr")
        cmd = [str(binary()), "platform", "--database", self.store.url,
               "--listen", "127.0.0.1:0", "--mqtt", self.mqtt, "--admin-token", self.admin_token,
               "--mqtt-client-id", self.mqtt_client_id]
        for d in self.dongles:
            cmd += ["--dongle", d]
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "warn")
        env.setdefault("RUST_BACKTRACE", "1")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=env, cwd=self.logs)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PlatformDied(f"meterlab platform exited with {self.proc.returncode} at start:\n{self.tail()}")
            text = self.stdout_path.read_text(errors="replace")
            for line in text.splitlines():
                if line.startswith("api: "):
                    self.url = line.split(" ", 1)[1].strip()
            if self.url and self._healthy():
                return self.url
            time.sleep(0.05)
        self.kill9()
        raise PlatformDied(f"meterlab platform did not come up within {timeout:.0f} s:\n{self.tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        """SIGKILL, no goodbye: the crash under test."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Ctrl-C (the platform's clean stop), then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            log(f"probe: {self.name} ignored SIGINT for 15 s; SIGKILL")
            self.kill9()

    def tail(self, n: int = 30) -> str:
        lines = []
        for p in (getattr(self, "stdout_path", None), getattr(self, "stderr_path", None)):
            if p and p.exists():
                lines += [f"  {p.name}: {ln}" for ln in p.read_text(errors="replace").splitlines()[-n:]]
        return "\n".join(lines) or "  (no output)"


# ---------------------------------------------------------------------------------------------
# P1 telegrams and identifiers


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC (poly 0xA001 reflected, init 0), as P1 telegrams carry it."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


assert crc16_arc(b"123456789") == 0xBB3D


def fixture_telegrams() -> list[str]:
    """The Belgian and Dutch fixture telegrams with a valid CRC, byte-exact (CRLF kept)."""
    names = [
        "fluvius-emucs-1.7.1-3phase.txt",
        "fluvius-emucs-1.7.1-1phase.txt",
        "fluvius-emucs-1.5-1phase.txt",
        "dsmr-5.0-iskra-am550-3phase.txt",
    ]
    out = []
    for n in names:
        raw = (FIXTURES / n).read_bytes()
        bang = raw.rindex(b"!")
        want = raw[bang + 1: bang + 5].decode()
        got = f"{crc16_arc(raw[: bang + 1]):04X}"
        if got != want:
            raise RuntimeError(f"{n}: CRC {got} != {want} (read byte-exact?)")
        out.append(raw.decode("utf-8"))
    return out


def kbo_of(first8: str) -> str:
    """An enterprise number: 8 digits and their check, 97 - (first 8 digits mod 97)."""
    return first8 + f"{97 - int(first8) % 97:02d}"


assert kbo_of("01234567") == "0123456749"  # the README's example


def kbo(n: int) -> str:
    """The n-th synthetic enterprise number (10 digits, starts with 1 as Kbo::parse wants)."""
    if not 0 <= n < 10_000_000:
        raise ValueError("KBO counter out of range")
    return kbo_of(f"{10_000_000 + n:08d}")
