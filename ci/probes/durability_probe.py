#!/usr/bin/env python3
"""kill -9 durability of `meterlab platform`: dongle uploads and ESP onboarding, on one store.

Each round, against a running platform on one database (fresh at round 1, then the same):

  (a) dongle threads POST signed batches to /api/ingest/v1/uploads and record every sequence
      number the receipt lists as stored or duplicate (acknowledged);
  (b) onboarding threads POST /api/admin/v1/esps with fresh, valid enterprise numbers and
      record every 201 with its token and webhook secret;

  (c) with --mqtt mqtt://HOST:PORT (an external broker such as Mosquitto; run.sh passes
      $MLAB_MQTT_URL): dongle threads publish uploads at QoS 1 on
      meterlab/v1/dongles/{id}/uploads and record every one the broker acknowledged (PUBACK);
      they go on publishing while the platform is down and for a moment after its restart;

then SIGKILL at a seeded moment, a restart on the same database, and the checks:

  - every acknowledged upload is in `uploads` exactly once, with the signature that was sent
    (lost / duplicated / altered);
  - in-doubt batches (sent, no receipt) are sent again, as a dongle would: each must come back
    stored or duplicate, never refused;
  - no ESP is half there: the RegisterEsp event in `register_events`, the secret in
    `esp_secrets` and an ESP token in `tokens` come together or not at all; an ESP answered
    201 is complete with the very token (by hash) and secret it was given, and the token works
    after the restart; no ESP holds two tokens;
  - (c) every upload the broker acknowledged is stored once the platform has drained its
    session (the platform subscribes with a persistent session and acks only once stored, so
    nothing the broker took may be lost across a platform crash);
  - onboarding the same KBO again is sane: 409 `esp_exists` for a complete ESP, 201 (then
    complete) for an absent one. A half-onboarded ESP that gets 409 is stuck for good.

Exit 1 on any loss, duplicate, alteration, half-onboarded ESP or insane re-onboarding.

    python ci/probes/durability_probe.py --store sqlite --rounds 4 --seed 7
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import itertools
import json
import os
import random
import secrets
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import requests

try:
    import paho.mqtt.client as mqtt
except ImportError:  # only needed with --mqtt
    mqtt = None

sys.path.insert(0, str(Path(__file__).resolve().parent))
import probelib as lib  # noqa: E402

UPLOADS = "/api/ingest/v1/uploads"
ESPS = "/api/admin/v1/esps"
HTTP_TIMEOUT = 20


def iso(unix: int) -> str:
    """A whole-second UTC instant as jiff prints it (the signed bytes use its Display)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix))


def signed_bytes(u: dict) -> bytes:
    """`meterlab-ingest-v1 LF dongle LF seq LF captured_at LF crc_ok LF telegram`
    (wire::ingest::v1::Upload::signed_bytes)."""
    return b"".join([
        b"meterlab-ingest-v1\n", u["dongle"].encode(), b"\n", str(u["seq"]).encode(), b"\n",
        u["captured_at"].encode(), b"\n", b"1\n" if u["crc_ok"] else b"0\n", u["telegram"].encode(),
    ])


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Workload state


@dataclass
class Dongle:
    id: str
    key: bytes
    telegram: str
    base: int  # captured_at of seq 0, unix seconds
    next_seq: int = 1
    sent: dict[int, str] = field(default_factory=dict)  # seq -> sig
    acked: set[int] = field(default_factory=set)
    in_doubt: list[list[dict]] = field(default_factory=list)  # this round's unanswered batches
    phase_of: dict[int, str] = field(default_factory=dict)  # MQTT: when the broker acked it

    def upload(self, seq: int) -> dict:
        u = {"dongle": self.id, "seq": seq, "captured_at": iso(self.base + seq),
             "telegram": self.telegram, "crc_ok": True, "sig": ""}
        u["sig"] = hmac.new(self.key, signed_bytes(u), hashlib.sha256).hexdigest()
        self.sent[seq] = u["sig"]
        return u

    def flag(self) -> str:
        return f"{self.id}:{self.key.hex()}"


@dataclass
class Esps:
    acked: dict[str, tuple[str, str]] = field(default_factory=dict)  # kbo -> (token, secret)
    attempted: set[str] = field(default_factory=set)
    round_acked: set[str] = field(default_factory=set)
    round_unacked: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Problems:
    """Everything that makes the probe fail, by kind, with samples."""

    def __init__(self):
        self.items: dict[str, list[str]] = defaultdict(list)
        self.lock = threading.Lock()

    def add(self, kind: str, detail: str) -> None:
        with self.lock:
            self.items[kind].append(detail)

    def __bool__(self) -> bool:
        return any(self.items.values())


def upload_worker(d: Dongle, url: str, rng: random.Random, stop: threading.Event,
                  problems: Problems, max_batch: int) -> None:
    s = requests.Session()
    while not stop.is_set():
        n = rng.randint(1, max_batch)
        batch = [d.upload(seq) for seq in range(d.next_seq, d.next_seq + n)]
        d.next_seq += n
        try:
            r = s.post(url + UPLOADS, json={"uploads": batch}, timeout=HTTP_TIMEOUT)
        except requests.RequestException:
            d.in_doubt.append(batch)  # the platform died under it: no receipt
            return
        if r.status_code == 503:
            d.in_doubt.append(batch)
            time.sleep(0.05)
            continue
        try:
            receipt = r.json()
            ok = set(receipt["stored"]) | set(receipt["duplicates"])
            refused = receipt["rejected"]
        except (ValueError, KeyError, TypeError):
            problems.add("bad upload response", f"{d.id}: {r.status_code} {r.text[:200]}")
            d.in_doubt.append(batch)
            continue
        d.acked |= ok
        for rej in refused:
            problems.add("valid upload refused", f"{d.id} seq {rej.get('seq')}: {rej.get('code')} {rej.get('message')}")
        want = {u["seq"] for u in batch}
        missing = want - ok - {rej.get("seq") for rej in refused}
        if missing:
            problems.add("receipt incomplete", f"{d.id}: seqs {sorted(missing)[:5]} neither acknowledged nor refused")


def esp_body(k: str, n: int) -> dict:
    return {"esp": {"kbo": k, "name": f"Probe ESP {n}", "channel": "api", "status": "active",
                    "webhook_url": None,
                    "services": [{"id": "live", "name": "Live", "needs": ["nrt"]}]}}


def esp_worker(url: str, admin: str, counter, esps: Esps, stop: threading.Event,
               problems: Problems) -> None:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {admin}"
    while not stop.is_set():
        with esps.lock:
            n = next(counter)
        k = lib.kbo(n)
        with esps.lock:
            esps.attempted.add(k)
        try:
            r = s.post(url + ESPS, json=esp_body(k, n), timeout=HTTP_TIMEOUT)
        except requests.RequestException:
            with esps.lock:
                esps.round_unacked.add(k)
            return
        if r.status_code == 201:
            j = r.json()
            with esps.lock:
                esps.acked[k] = (j["token"], j["webhook_secret"])
                esps.round_acked.add(k)
        else:
            with esps.lock:
                esps.round_unacked.add(k)
            problems.add("onboarding refused", f"KBO {k}: {r.status_code} {r.text[:200]}")


def mqtt_worker(d: Dongle, broker: tuple[str, int], stop: threading.Event, phase: list[str],
                problems: Problems) -> None:
    """Publishes single uploads at QoS 1 and records what the broker acknowledged; a clean
    session of its own (the dongle's side is not under test). Publishes go on while the
    platform is down: the broker holds them for the platform's persistent session."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{d.id}-{secrets.token_hex(3)}",
                    clean_session=True)
    try:
        c.connect(*broker, keepalive=30)
    except OSError as e:
        problems.add("MQTT broker unreachable", f"{broker}: {e}")
        return
    c.loop_start()
    try:
        while not stop.is_set():
            u = d.upload(d.next_seq)
            d.next_seq += 1
            info = c.publish(f"meterlab/v1/dongles/{d.id}/uploads", json.dumps(u), qos=1)
            try:
                info.wait_for_publish(timeout=5)
            except (RuntimeError, ValueError):
                pass
            if info.is_published():
                d.acked.add(u["seq"])
                d.phase_of[u["seq"]] = phase[0]
            else:
                problems.add("MQTT publish not acknowledged by the broker", f"{d.id} seq {u['seq']}")
                return
            time.sleep(0.002)
    finally:
        c.loop_stop()
        c.disconnect()


# ---------------------------------------------------------------------------------------------
# Checks against the database


def stored_uploads(store: lib.Store, prefix: str) -> tuple[dict[tuple[str, int], str], list[tuple]]:
    rows = store.query(f"SELECT dongle, seq, sig FROM uploads WHERE dongle LIKE '{prefix}%'")
    got = {(r[0], int(r[1])): r[2] for r in rows}
    dups = store.query(f"SELECT dongle, seq, COUNT(*) FROM uploads WHERE dongle LIKE '{prefix}%' "
                       "GROUP BY dongle, seq HAVING COUNT(*) > 1")
    return got, dups


@dataclass
class EspState:
    registered: set[str]
    secrets: dict[str, str]
    tokens: dict[str, list[str]]  # kbo -> token hashes

    def state(self, k: str) -> str:
        parts = (k in self.registered, k in self.secrets, k in self.tokens)
        if all(parts):
            return "complete"
        if not any(parts):
            return "absent"
        names = ("register event", "webhook secret", "API token")
        have = [n for n, p in zip(names, parts) if p]
        lack = [n for n, p in zip(names, parts) if not p]
        return f"half: has {', '.join(have)}; lacks {', '.join(lack)}"

    def all_kbos(self) -> set[str]:
        return self.registered | set(self.secrets) | set(self.tokens)



def current_secret(body: str) -> str:
    """The webhook secret an `esp_secrets` record signs with now: the record is JSON
    (`{"current", "previous", "previous_until"}`) since rotation overlaps, plain text before."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    return doc.get("current", body) if isinstance(doc, dict) else body

def esp_state(store: lib.Store) -> EspState:
    registered = set()
    for (body,) in store.query("SELECT body FROM register_events"):
        cmd = json.loads(body)
        if cmd.get("type") == "register_esp":
            registered.add(cmd["esp"]["kbo"])
    secrets_ = {k: current_secret(v) for k, v in store.query("SELECT id, body FROM esp_secrets")}
    tokens: dict[str, list[str]] = defaultdict(list)
    for h, body in store.query("SELECT id, body FROM tokens"):
        party = json.loads(body).get("party", {})
        if party.get("role") == "esp":
            tokens[party["id"]].append(h)
    return EspState(registered, secrets_, dict(tokens))


# ---------------------------------------------------------------------------------------------
# The probe


class Probe:
    def __init__(self, args):
        self.args = args
        self.store_kind = args.store
        self.out = lib.out_dir(f"durability/{args.store}")
        self.rng = random.Random(f"{args.seed}:{args.store}")
        self.admin = "probe-admin-" + secrets.token_hex(8)
        self.prefix = f"PROBE-{args.store[:2].upper()}-"
        tels = lib.fixture_telegrams()
        base = int(time.time()) - 86_400
        self.dongles = [
            Dongle(f"{self.prefix}{i}", self.rng.randbytes(16), tels[i % len(tels)], base)
            for i in range(args.dongles)
        ]
        self.mqtt_dongles = [
            Dongle(f"{self.prefix}M{i}", self.rng.randbytes(16), tels[(i + 1) % len(tels)], base)
            for i in range(args.mqtt_dongles if args.mqtt != "none" else 0)
        ]
        self.broker = None
        if self.mqtt_dongles:
            if mqtt is None:
                sys.exit("probe: --mqtt needs paho-mqtt (ci/probes/requirements.txt)")
            if not args.mqtt.startswith("mqtt://"):
                sys.exit("probe: --mqtt takes mqtt://HOST:PORT (an external broker) or none")
            host, _, port = args.mqtt.removeprefix("mqtt://").rpartition(":")
            self.broker = (host, int(port))
        self.esps = Esps()
        self.counter = itertools.count(self.rng.randrange(1_000_000) * 4)
        self.problems = Problems()
        self.half_seen: dict[str, str] = {}
        self.totals = Counter()
        self.rounds: list[dict] = []
        self.final_stored = 0
        self.final_mqtt_stored = 0
        self.mqtt_stop = threading.Event()
        self.dups_seen: set = set()
        self.mqtt_lost_by_phase: Counter = Counter()

    def run(self) -> int:
        store = lib.Store.fresh(self.store_kind, self.out, "durability")
        platform = lib.Platform(store, self.admin, self.out, "platform",
                                dongles=[d.flag() for d in self.dongles + self.mqtt_dongles],
                                mqtt=self.args.mqtt if self.mqtt_dongles else "none")
        mq = f", {len(self.mqtt_dongles)} MQTT dongles via {self.args.mqtt}" if self.mqtt_dongles else ", no MQTT"
        lib.log(f"durability ({self.store_kind}): store {store.describe()}, {len(self.dongles)} REST dongles{mq}, "
                f"{self.args.esp_workers} onboarding threads, {self.args.rounds} rounds, seed {self.args.seed}")
        t0 = time.monotonic()
        try:
            platform.start()
            if self.mqtt_dongles:
                self.mqtt_warm_up(store)
            for r in range(1, self.args.rounds + 1):
                if not self.round(r, platform, store):
                    break
            got, _ = stored_uploads(store, self.prefix)
            self.final_mqtt_stored = sum(1 for (dg, _) in got if dg.startswith(self.prefix + "M"))
            self.final_stored = len(got) - self.final_mqtt_stored
        except lib.PlatformDied as e:
            self.problems.add("platform did not (re)start", str(e))
        except requests.RequestException as e:
            self.problems.add("platform unreachable after its restart", f"{e}\n{platform.tail()}")
        finally:
            self.mqtt_stop.set()
            platform.stop()
            store.close()
        self.report(time.monotonic() - t0)
        return 1 if self.problems else 0

    def mqtt_warm_up(self, store: lib.Store) -> None:
        """Until the platform's subscription is in place the broker drops what is published
        (nobody is subscribed yet): publish one upload until it is stored."""
        d = self.mqtt_dongles[0]
        u = d.upload(d.next_seq)
        d.next_seq += 1
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-warmup-{secrets.token_hex(3)}")
        c.connect(*self.broker)
        c.loop_start()
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                c.publish(f"meterlab/v1/dongles/{d.id}/uploads", json.dumps(u), qos=1).wait_for_publish(5)
                for _ in range(10):
                    if (d.id, u["seq"]) in stored_uploads(store, d.id)[0]:
                        d.acked.add(u["seq"])
                        return
                    time.sleep(0.1)
        finally:
            c.loop_stop()
            c.disconnect()
        raise lib.PlatformDied(f"the platform stored no MQTT upload within 30 s (subscribed to {self.args.mqtt}?)")

    def mqtt_drain(self, store: lib.Store, stall: float = 3.0, limit: float = 20.0) -> dict:
        """Waits until every broker-acknowledged MQTT upload is stored, or nothing new arrives
        for `stall` seconds; returns what is stored."""
        want = {(d.id, s) for d in self.mqtt_dongles for s in d.acked}
        t0 = last_change = time.monotonic()
        seen = -1
        while True:
            got, _ = stored_uploads(store, self.prefix + "M")
            have = len(want & got.keys())
            if have == len(want):
                return got
            now = time.monotonic()
            if have != seen:
                seen, last_change = have, now
            if now - last_change > stall or now - t0 > limit:
                return got
            time.sleep(0.2)

    def round(self, r: int, platform: lib.Platform, store: lib.Store) -> bool:
        rrng = random.Random(f"{self.args.seed}:{self.store_kind}:round{r}")
        kill_after = rrng.uniform(self.args.kill_min, self.args.kill_max)
        url = platform.url
        stop = threading.Event()
        self.esps.round_acked, self.esps.round_unacked = set(), set()
        for d in self.dongles:
            d.in_doubt = []
        acked_before = sum(len(d.acked) for d in self.dongles)
        sent_before = sum(len(d.sent) for d in self.dongles)
        threads = [
            threading.Thread(target=upload_worker, daemon=True, args=(
                d, url, random.Random(f"{self.args.seed}:{self.store_kind}:{r}:{d.id}"), stop,
                self.problems, self.args.max_batch))
            for d in self.dongles
        ] + [
            threading.Thread(target=esp_worker, daemon=True, args=(
                url, self.admin, self.counter, self.esps, stop, self.problems))
            for _ in range(self.args.esp_workers)
        ]
        self.mqtt_stop = mqtt_stop = threading.Event()
        phase = ["before the kill"]
        mqtt_acked_before = sum(len(d.acked) for d in self.mqtt_dongles)
        mqtt_threads = [
            threading.Thread(target=mqtt_worker, daemon=True, args=(d, self.broker, mqtt_stop, phase, self.problems))
            for d in self.mqtt_dongles
        ]
        for t in threads + mqtt_threads:
            t.start()
        time.sleep(kill_after)
        platform.kill9()
        phase[0] = "while the platform was down"
        stop.set()
        for t in threads:
            t.join(timeout=HTTP_TIMEOUT + 5)
        stuck = [t for t in threads if t.is_alive()]
        if stuck:
            self.problems.add("client thread hung", f"round {r}: {len(stuck)} threads still waiting after the kill")

        platform.start()
        phase[0] = "after the restart"
        fig = Counter()
        if mqtt_threads:
            time.sleep(self.args.mqtt_after)
            mqtt_stop.set()
            for t in mqtt_threads:
                t.join(timeout=15)
            got = self.mqtt_drain(store)
            fig["mqtt_acknowledged"] = sum(len(d.acked) for d in self.mqtt_dongles) - mqtt_acked_before
            for d in self.mqtt_dongles:
                for seq in sorted(d.acked):
                    sig = got.get((d.id, seq))
                    if sig is None:
                        when = d.phase_of.get(seq, "before the kill")
                        fig["mqtt_lost"] += 1
                        self.mqtt_lost_by_phase[when] += 1
                        fig["mqtt_lost_" + when.split()[0]] += 1
                        self.problems.add("MQTT upload acknowledged by the broker lost",
                                          f"round {r}: {d.id} seq {seq} (broker-acked {when})")
                    elif sig != d.sent[seq]:
                        self.problems.add("MQTT upload altered", f"round {r}: {d.id} seq {seq}")
                d.acked -= {seq for seq in d.acked if (d.id, seq) not in got}  # counted once
        fig["sent"] = sum(len(d.sent) for d in self.dongles) - sent_before
        fig["acknowledged"] = sum(len(d.acked) for d in self.dongles) - acked_before

        # Uploads: every acknowledged one stored once, as sent.
        got, dups = stored_uploads(store, self.prefix)
        for d in self.dongles:
            bad = set()
            for seq in sorted(d.acked):
                sig = got.get((d.id, seq))
                if sig is None:
                    fig["lost"] += 1
                    bad.add(seq)
                    self.problems.add("acknowledged upload lost", f"round {r}: {d.id} seq {seq}")
                elif sig != d.sent[seq]:
                    fig["altered"] += 1
                    bad.add(seq)
                    self.problems.add("acknowledged upload altered", f"round {r}: {d.id} seq {seq}")
            d.acked -= bad  # reported once, not again every round
        for dongle, seq, n in dups:
            if (dongle, seq) in self.dups_seen:
                continue
            self.dups_seen.add((dongle, seq))
            fig["duplicated"] += 1
            self.problems.add("upload stored twice", f"round {r}: {dongle} seq {seq} x{n}")
        sent_keys = {(d.id, s) for d in self.dongles + self.mqtt_dongles for s in d.sent}
        phantom = [k for k in got if k not in sent_keys]
        for k in phantom[:5]:
            self.problems.add("upload stored that was never sent", f"round {r}: {k}")
        fig["stored_rows"] = sum(1 for (dg, _) in got if not dg.startswith(self.prefix + "M"))

        # In-doubt batches: how many made it, then a dongle's retry.
        in_doubt = [u for d in self.dongles for b in d.in_doubt for u in b]
        fig["in_doubt"] = len(in_doubt)
        fig["in_doubt_stored"] = sum(1 for u in in_doubt if (u["dongle"], u["seq"]) in got)
        s = requests.Session()
        for d in self.dongles:
            for batch in d.in_doubt:
                resp = s.post(platform.url + UPLOADS, json={"uploads": batch}, timeout=HTTP_TIMEOUT)
                try:
                    rc = resp.json()
                    ok = set(rc["stored"]) | set(rc["duplicates"])
                except (ValueError, KeyError, TypeError):
                    self.problems.add("retry after restart failed", f"{d.id}: {resp.status_code} {resp.text[:200]}")
                    continue
                d.acked |= ok
                fig["retried"] += len(batch)
                fig["retry_duplicates"] += len(rc["duplicates"])
                for rej in rc["rejected"]:
                    self.problems.add("retry after restart refused",
                                      f"round {r}: {d.id} seq {rej.get('seq')}: {rej.get('code')} {rej.get('message')}")
            d.in_doubt = []

        # ESPs: acknowledged ones complete, none half, tokens work, re-onboarding sane.
        st = esp_state(store)
        fig["esp_201"] = len(self.esps.round_acked)
        fig["esp_in_doubt"] = len(self.esps.round_unacked)
        for k in sorted(st.all_kbos()):
            state = st.state(k)
            if state.startswith("half") and k not in self.half_seen:
                self.half_seen[k] = state
                fig["half_onboarded"] += 1
                acked = "answered 201" if k in self.esps.acked else "not answered"
                self.problems.add("half-onboarded ESP", f"round {r}: KBO {k} ({acked}): {state}")
            if len(st.tokens.get(k, [])) > 1:
                self.problems.add("ESP with several tokens", f"round {r}: KBO {k}: {len(st.tokens[k])} tokens")
        for k in sorted(self.esps.round_acked):
            token, secret = self.esps.acked[k]
            state = st.state(k)
            if state != "complete":
                fig["esp_201_incomplete"] += 1
                self.problems.add("ESP answered 201 but incomplete", f"round {r}: KBO {k}: {state}")
                continue
            if st.secrets.get(k) != secret:
                self.problems.add("ESP secret differs from the one given", f"round {r}: KBO {k}")
            if token_hash(token) not in st.tokens.get(k, []):
                self.problems.add("ESP token differs from the one given", f"round {r}: KBO {k}")
        sample = sorted(self.esps.round_acked)[-3:]
        for k in sample:
            resp = s.get(platform.url + "/api/esp/v1/mandates",
                         headers={"Authorization": f"Bearer {self.esps.acked[k][0]}"}, timeout=HTTP_TIMEOUT)
            if resp.status_code != 200:
                self.problems.add("ESP token refused after restart", f"round {r}: KBO {k}: {resp.status_code} {resp.text[:160]}")
        fig["esp_complete_unanswered"] = sum(
            1 for k in self.esps.round_unacked if st.state(k) == "complete")
        self.reonboard(r, platform, store, st, sorted(self.esps.round_unacked) + sample, fig)

        self.totals.update({k: v for k, v in fig.items() if k != "stored_rows"})
        self.rounds.append({"round": r, "kill_after_s": round(kill_after, 3), **fig})
        mq = (f" | MQTT broker-acked {fig['mqtt_acknowledged']}, lost {fig['mqtt_lost']} (acked before the "
              f"kill {fig['mqtt_lost_before']}, while down {fig['mqtt_lost_while']}, after the restart "
              f"{fig['mqtt_lost_after']})") if self.mqtt_dongles else ""
        lib.log(f"  round {r}: kill -9 after {kill_after:.2f} s | uploads sent {fig['sent']}, acknowledged "
                f"{fig['acknowledged']}, lost {fig['lost']}, duplicated {fig['duplicated']}, altered "
                f"{fig['altered']}, in doubt {fig['in_doubt']} (already stored {fig['in_doubt_stored']}, "
                f"retried: {fig['retry_duplicates']} duplicates){mq} | ESPs 201 {fig['esp_201']}, in doubt "
                f"{fig['esp_in_doubt']} (complete {fig['esp_complete_unanswered']}), half-onboarded "
                f"{fig['half_onboarded']}, re-onboarding insane {fig['reonboard_insane']}")
        return True

    def reonboard(self, r: int, platform: lib.Platform, store: lib.Store, st: EspState,
                  kbos: list[str], fig: Counter) -> None:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {self.admin}"
        outcomes = []
        for k in kbos:
            before = st.state(k)
            resp = s.post(platform.url + ESPS, json=esp_body(k, -1), timeout=HTTP_TIMEOUT)
            code = ""
            try:
                code = resp.json().get("code", "")
            except ValueError:
                pass
            outcomes.append((k, before, resp.status_code, code, resp))
        after = esp_state(store) if outcomes else st
        for k, before, status, code, resp in outcomes:
            now = after.state(k)
            if before == "complete" and status == 409 and code == "esp_exists":
                fig["reonboard_409"] += 1
                continue
            if before == "absent" and status == 201 and now == "complete":
                j = resp.json()
                self.esps.acked[k] = (j["token"], j["webhook_secret"])
                fig["reonboard_201"] += 1
                continue
            fig["reonboard_insane"] += 1
            verdict = "stuck: refused with 409 but it has no working onboarding" if (
                before.startswith("half") and status == 409) else "unexpected"
            self.problems.add("re-onboarding", f"round {r}: KBO {k} was {before!r}: {status} {code or resp.text[:120]}"
                                               f" -> now {now!r} ({verdict})")

    def report(self, wall: float) -> None:
        t = self.totals
        acked = sum(len(d.acked) for d in self.dongles) + t["lost"] + t["altered"]
        lib.log(f"\ndurability ({self.store_kind}) after {len(self.rounds)} rounds in {wall:.1f} s:")
        lib.log(f"  uploads: acknowledged {acked}, stored {self.final_stored}, "
                f"lost {t['lost']}, duplicated {t['duplicated']}, altered {t['altered']}, in doubt at a kill "
                f"{t['in_doubt']} (of which already stored {t['in_doubt_stored']})")
        if self.mqtt_dongles:
            by = ", ".join(f"{n} broker-acked {w}" for w, n in self.mqtt_lost_by_phase.items()) or "none"
            lib.log(f"  MQTT uploads: broker-acknowledged {t['mqtt_acknowledged'] + 1} (with the warm-up), stored "
                    f"{self.final_mqtt_stored}, lost {t['mqtt_lost']} ({by})")
        lib.log(f"  ESPs: answered 201 {len(self.esps.acked)}, in doubt at a kill {t['esp_in_doubt']} "
                f"(complete {t['esp_complete_unanswered']}), half-onboarded {len(self.half_seen)}, "
                f"re-onboarding: 409 {t['reonboard_409']}, 201 {t['reonboard_201']}, insane {t['reonboard_insane']}")
        if self.problems:
            lib.log("  FAIL:")
            for kind, items in self.problems.items.items():
                lib.log(f"    {kind}: {len(items)}")
                for it in items[:4]:
                    for ln in it.splitlines()[:15]:
                        lib.log(f"      {ln}")
        else:
            lib.log("  PASS")
        (self.out / "summary.json").write_text(json.dumps({
            "store": self.store_kind, "seed": self.args.seed, "wall_s": round(wall, 1),
            "rounds": self.rounds, "half_onboarded": self.half_seen,
            "problems": {k: v[:50] for k, v in self.problems.items.items()},
        }, indent=1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("MLAB_PROBE_ROUNDS", "4")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("MLAB_PROBE_SEED", "20261207")))
    ap.add_argument("--dongles", type=int, default=4, help="upload threads, one dongle each")
    ap.add_argument("--esp-workers", type=int, default=2, help="onboarding threads")
    ap.add_argument("--max-batch", type=int, default=20, help="uploads per batch at most")
    ap.add_argument("--mqtt", default=os.environ.get("MLAB_PROBE_MQTT", "none"),
                    help="mqtt://HOST:PORT of an external broker for the MQTT uploads (c), or none")
    ap.add_argument("--mqtt-dongles", type=int, default=2)
    ap.add_argument("--mqtt-after", type=float, default=1.0,
                    help="seconds the MQTT dongles go on publishing after the restart")
    ap.add_argument("--kill-min", type=float, default=0.5, help="earliest kill, s after the workload starts")
    ap.add_argument("--kill-max", type=float, default=2.5, help="latest kill")
    args = ap.parse_args()
    return Probe(args).run()


if __name__ == "__main__":
    sys.exit(main())
