#!/usr/bin/env python3
"""Soak and chaos for `petraf serve`, on loopback only, bounded in time.

Runs N employees' journeys (Sarah's walkthrough script) against a fresh
`petraf serve` with random disconnects (a TCP reset right after a chat
turn is sent), resumes from a second "tab" beside every turn, and one
`kill -9` of the server plus a restart half-way. Beside the journeys run
two attacks (unless `--no-attacks`): a slow-body attack from a second
loopback address (sockets that announce a body and send a byte at a time)
while a prober on 127.0.0.1 checks `/api/health`, and concurrent replaces
and deletes of company documents through the admin API. Then it checks:

  * every turn that got `complete` is stored (its reply; its goal if final);
  * no session stays locked (409) longer than the bound: 1 s after a
    disconnect, one lease term (+ restart time) after the kill;
  * no duplicate messages (no stored reply twice, no id twice);
  * every confirmed session has three final goals;
  * SQLite's integrity check passes;
  * every slow-body socket was closed by the server within the body
    deadline (plus slack), and `/api/health` answered 200 throughout;
  * each race of two replaces naming one revision (If-Match) had exactly
    one winner, every loser got 409/412 (404 after a delete), no two audit
    entries claim one document revision (so no replace was lost), and every
    listed document's original is in the object store.

Usage: scripts/soak.py [--journeys 40] [--workers 8] [--lease 5] [--seed 1]
                       [--slow-sockets 150] [--body-deadline 4] [--races 20]
                       [--no-attacks] [--binary target/release/petraf]
Python 3.9+ standard library only. Exit status 0 when every invariant holds.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time

TENANT = "550e8400-e29b-41d4-a716-446655440000"
SCRIPT = [
    ("g4_future", "I want to become a senior engineer and maybe start leading a small team. I'd like to work on more complex systems and mentor junior developers."),
    ("g4_future", "I want to master distributed systems and microservices architecture. I'd like to lead a team of 3-4 developers and work on our payment processing platform."),
    ("g6_values", "I really value continuous learning, collaboration with my team, technical excellence, and making an impact through good code. Also work-life balance is important to me."),
    ("g8_actions", "In the next 6 months I will:\n1. Complete AWS Solutions Architect certification\n2. Lead the payment gateway migration project\n3. Mentor 2 junior developers (Mike and Jenny)\n4. Present at our monthly tech talks about microservices\n5. Improve our deployment pipeline to reduce downtime\n6. Read 3 books on distributed systems"),
]
PROFILE = {"employee_code": "EMP1", "department": "Engineering", "position": "Software Engineer"}
# The platform key: the attacks' admin calls (the demo tenant's own key is
# printed once to a terminal the soak does not read).
PLATFORM_KEY = "soak-platform-admin-key-0123456789abcdef"
ATTACKER = "127.0.0.2"


class Server:
    """`petraf serve` on a free loopback port and a private data directory."""

    def __init__(self, binary, data_dir, lease, body_deadline):
        self.binary, self.data_dir, self.lease = binary, data_dir, lease
        self.body_deadline = body_deadline
        self.port = free_port()
        self.proc = None

    def start(self):
        env = dict(os.environ, PETRAF_DATA_DIR=self.data_dir,
                   PETRAF_ADDR=f"127.0.0.1:{self.port}",
                   PETRAF_TURN_LEASE_SECONDS=str(self.lease), RUST_LOG="warn",
                   PETRAF_PLATFORM_ADMIN_KEY=PLATFORM_KEY,
                   PETRAF_BODY_DEADLINE_SECS=str(self.body_deadline))
        self.proc = subprocess.Popen([self.binary, "serve"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if request(self.port, "GET", "/api/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("petraf serve did not start")

    def lift_address_limits(self):
        # Every simulated employee speaks from 127.0.0.1: the per-address
        # limits would measure that, not the journeys.
        env = dict(os.environ, PETRAF_DATA_DIR=self.data_dir, RUST_LOG="warn")
        patch = '{"limits": {"sessions_per_address_per_hour": 0, "turns_per_address_per_minute": 0}}'
        subprocess.run([self.binary, "tenant", "settings", TENANT, "--patch", patch], env=env,
                       check=True, stdout=subprocess.DEVNULL)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, token=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"X-Tenant-ID": TENANT, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    resp = conn.getresponse()
    data = resp.read().decode()
    conn.close()
    return resp.status, data


def sse_events(text):
    events = []
    for block in text.split("\n\n"):
        name, data = "message", ""
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].lstrip()
        if data:
            events.append((name, json.loads(data)))
    return events


def reset_after_send(port, token, session, phase, message, delay):
    """Sends a chat turn and resets the connection `delay` seconds later."""
    body = json.dumps({"session_id": session, "message": message, "step": "collect"})
    head = (f"POST /api/chat/{phase}/stream HTTP/1.1\r\nhost: 127.0.0.1\r\nx-tenant-id: {TENANT}\r\n"
            f"authorization: Bearer {token}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body.encode())}\r\n\r\n")
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head.encode() + body.encode())
    time.sleep(delay)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.turns = 0            # turns that got `complete`
        self.acknowledged = []    # (session, phase, full_response, final goal id or None)
        self.errors = []          # unexpected answers
        self.disconnect_waits = []  # seconds a session stayed locked after a reset
        self.crash_waits = []     # seconds a session stayed locked after the kill
        self.confirmed = []       # sessions whose completion was confirmed
        self.resumes = 0
        self.resume_failures = 0

    def add(self, field, value):
        with self.lock:
            getattr(self, field).append(value)


def journey(server, stats, rng, crash):
    """One employee, start to confirmed completion; returns when done."""
    cut_at = [None]  # when the server last went away under this journey

    def call(method, path, body=None, token=None):
        # Rides out the restart: connection errors are retried.
        while True:
            try:
                return request(server.port, method, path, body, token)
            except (OSError, http.client.HTTPException):
                cut_at[0] = cut_at[0] or time.time()
                time.sleep(0.1)

    status, text = call("POST", "/api/session/create", {"metadata": {"source": "soak"}})
    if status != 201:
        stats.add("errors", f"create {status} {text[:200]}")
        return
    created = json.loads(text)
    session, token = created["session_id"], created["resume_token"]
    status, text = call("PUT", f"/api/session/{session}/info", PROFILE, token)
    if status != 200:
        stats.add("errors", f"profile {status} {text[:200]}")
        return

    def second_tab():
        status, _ = call("POST", "/api/session/resume", {"resume_token": token})
        with stats.lock:
            stats.resumes += 1
            stats.resume_failures += status != 200

    for phase, message in SCRIPT:
        locked_since, reason = None, None
        if rng.random() < 0.3:
            try:
                reset_after_send(server.port, token, session, phase, message, rng.uniform(0, 0.004))
            except OSError:
                pass
            locked_since, reason = time.time(), "disconnect_waits"
        while True:
            tab = threading.Thread(target=second_tab)
            tab.start()
            started = time.time()
            status, text = call("POST", f"/api/chat/{phase}/stream",
                                {"session_id": session, "message": message, "step": "collect"}, token)
            tab.join()
            if cut_at[0] is not None:
                # This turn (or an earlier one) was cut by the kill.
                locked_since, reason, cut_at[0] = cut_at[0], "crash_waits", None
            if status == 409 and '"session_completed"' in text:
                # The reset turn ran to completion after all.
                break
            if status == 409 and '"phase_mismatch"' in text:
                # The reset turn ran to completion after all: the phase moved on.
                break
            if status == 409:
                locked_since = locked_since or started
                reason = reason or "crash_waits"
                if time.time() - locked_since > server.lease + 30:
                    stats.add("errors", f"session {session} locked for good")
                    return
                time.sleep(0.05)
                continue
            if status != 200:
                stats.add("errors", f"chat {status} {text[:200]}")
                return
            events = sse_events(text)
            if not events or events[-1][0] != "complete":
                # Cut by the kill (or a model fault): send the message again.
                if crash.is_set() or (events and events[-1][0] == "error"):
                    locked_since, reason = locked_since or time.time(), "crash_waits"
                    continue
                stats.add("errors", f"turn ended with {events[-1:]}")
                return
            if locked_since is not None:
                stats.add(reason, started - locked_since)
            final = next((d["goal_id"] for n, d in events if n == "score" and d["meets_threshold"]), None)
            with stats.lock:
                stats.turns += 1
                stats.acknowledged.append((session, phase, events[-1][1]["full_response"], final))
            if final or phase == "g4_future":
                break
    status, text = call("POST", f"/api/session/{session}/complete", None, token)
    if status == 200:
        stats.add("confirmed", (session, token))
    else:
        stats.add("errors", f"complete {status} {text[:200]}")


# ---------------------------------------------------------------- attacks

class AttackStats:
    def __init__(self):
        self.lock = threading.Lock()
        self.slow_open = 0          # slow sockets the server accepted
        self.slow_refused = 0       # refused at once (503 from the per-address cap)
        self.slow_closed_after = []  # seconds from the head to the server's close
        self.slow_never_closed = 0
        self.health = []            # (status or error, seconds) of each probe
        self.races = []             # (kind, [statuses])
        self.problems = []

    def add(self, field, value):
        with self.lock:
            getattr(self, field).append(value)


def slow_body(port, deadline, stats):
    """One socket from ATTACKER announcing a 1 KiB body, sent a byte a second."""
    try:
        s = socket.socket()
        s.bind((ATTACKER, 0))
        s.settimeout(1.0)
        s.connect(("127.0.0.1", port))
        s.sendall((f"POST /api/session/create HTTP/1.1\r\nhost: 127.0.0.1\r\nx-tenant-id: {TENANT}\r\n"
                   "content-type: application/json\r\ncontent-length: 1024\r\n\r\n{").encode())
    except OSError as e:
        stats.add("problems", f"slow-body socket could not connect: {e}")
        return
    started = time.time()
    give_up = started + deadline + 30
    while time.time() < give_up:
        try:
            data = s.recv(4096)
            if data.startswith(b"HTTP/1.1 503"):
                with stats.lock:
                    stats.slow_refused += 1
                s.close()
                return
            if data == b"" or data.startswith(b"HTTP/1.1 "):
                # Closed (or answered, e.g. 408) by the server.
                with stats.lock:
                    stats.slow_open += 1
                stats.add("slow_closed_after", time.time() - started)
                s.close()
                return
        except socket.timeout:
            try:
                s.send(b" ")
            except OSError:
                with stats.lock:
                    stats.slow_open += 1
                stats.add("slow_closed_after", time.time() - started)
                return
        except OSError:
            with stats.lock:
                stats.slow_open += 1
            stats.add("slow_closed_after", time.time() - started)
            return
    with stats.lock:
        stats.slow_open += 1
        stats.slow_never_closed += 1
    s.close()


def slow_body_attack(server, sockets, stats):
    """`sockets` slow bodies at once from ATTACKER while 127.0.0.1 probes health."""
    done = threading.Event()

    def probe():
        while not done.is_set():
            started = time.time()
            try:
                status, _ = request(server.port, "GET", "/api/health", timeout=5)
            except (OSError, http.client.HTTPException) as e:
                status = f"error {e.__class__.__name__}"
            stats.add("health", (status, time.time() - started))
            time.sleep(0.2)

    prober = threading.Thread(target=probe)
    prober.start()
    attackers = [threading.Thread(target=slow_body, args=(server.port, server.body_deadline, stats))
                 for _ in range(sockets)]
    for t in attackers:
        t.start()
    for t in attackers:
        t.join()
    done.set()
    prober.join()


def admin_call(port, method, path, body=b"", content_type=None, if_match=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"X-Admin-Key": PLATFORM_KEY}
    if content_type:
        headers["Content-Type"] = content_type
    if if_match:
        headers["If-Match"] = if_match
    conn.request(method, path, body=body or None, headers=headers)
    resp = conn.getresponse()
    data = resp.read().decode()
    etag = resp.getheader("ETag")
    conn.close()
    return resp.status, data, etag


def multipart(fields, filename, text):
    boundary = "soak" + os.urandom(8).hex()
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\ncontent-disposition: form-data; name="{name}"\r\n\r\n{value}\r\n')
    parts.append(f'--{boundary}\r\ncontent-disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"content-type: text/markdown\r\n\r\n{text}\r\n--{boundary}--\r\n")
    return "".join(parts).encode(), f"multipart/form-data; boundary={boundary}"


def document_text(tag):
    return (f"# Soak guideline {tag}\n\nEngineers at Sunrise write design notes for {tag}. "
            "Each quarter they review one system, mentor one colleague and record what they learned.\n")


def upload(port, tag):
    body, ctype = multipart({"category": "guidelines", "metadata": json.dumps({"title": f"Soak {tag}"})},
                            f"soak-{tag}.md", document_text(tag))
    status, text, _ = admin_call(port, "POST", f"/api/admin/rag/upload/{TENANT}", body, ctype)
    return status, (json.loads(text) if status in (200, 201) else text)


def replace(port, doc_id, tag, if_match):
    body, ctype = multipart({}, f"soak-{tag}.md", document_text(tag))
    return admin_call(port, "PUT", f"/api/admin/rag/documents/{TENANT}/{doc_id}", body, ctype, if_match)[0]


def delete(port, doc_id):
    return admin_call(port, "DELETE", f"/api/admin/rag/documents/{TENANT}/{doc_id}")[0]


def race(*calls):
    """Runs the calls at once; their statuses in order."""
    results = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except (OSError, http.client.HTTPException) as e:
            results[i] = f"error {e.__class__.__name__}"

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def replace_races(server, rounds, stats, rng):
    """Two replaces of one document at once (half with If-Match, half
    without), then a delete racing a replace followed by a new upload."""
    port = server.port
    status, doc = upload(port, "race-0")
    if status not in (200, 201):
        stats.add("problems", f"upload for the races answered {status}: {doc}")
        return
    doc_id = doc["id"] if "id" in doc else doc["document_id"]
    for r in range(rounds):
        status, _, etag = admin_call(port, "GET", f"/api/admin/rag/documents/{TENANT}/{doc_id}")
        use_etag = etag if r % 2 == 0 else None
        statuses = race(lambda: replace(port, doc_id, f"race-{r}-a", use_etag),
                        lambda: replace(port, doc_id, f"race-{r}-b", use_etag))
        kind = "replace/replace with If-Match" if use_etag else "replace/replace without If-Match"
        stats.add("races", (kind, statuses))
        # With one If-Match both name the same revision: one may win. Without
        # it, two requests that did not overlap both win, one after the
        # other; the audit check below proves no revision was claimed twice.
        winners_allowed = (1,) if use_etag else (1, 2)
        if statuses.count(200) not in winners_allowed or any(s not in (200, 409, 412) for s in statuses):
            stats.add("problems", f"replace race {r}: {statuses} ({kind})")
    for r in range(max(1, rounds // 4)):
        status, doc = upload(port, f"delete-race-{r}")
        if status not in (200, 201):
            stats.add("problems", f"upload for a delete race answered {status}: {doc}")
            continue
        victim = doc["id"] if "id" in doc else doc["document_id"]
        statuses = race(lambda: delete(port, victim),
                        lambda: replace(port, victim, f"delete-race-{r}-new", None))
        stats.add("races", ("delete/replace", statuses))
        if statuses.count(200) != 1 or any(s not in (200, 404, 409, 412) for s in statuses):
            stats.add("problems", f"delete/replace race {r}: {statuses} (one 200 expected)")
        # Delete-then-upload while a replace may still be finishing.
        upload(port, f"delete-race-{r}-again-{rng.random():.6f}")


def check_documents(server, stats, data_dir):
    problems = []
    db = sqlite3.connect(os.path.join(data_dir, "state.db"))
    revisions = {}
    for (body,) in db.execute("SELECT body FROM audit_log"):
        a = json.loads(body)
        if a["action"] == "rag.document_replaced":
            key = (a["resource_id"], a["payload"].get("revision"))
            revisions[key] = revisions.get(key, 0) + 1
    doubled = [k for k, n in revisions.items() if n > 1]
    if doubled:
        problems.append(f"{len(doubled)} document revisions claimed by two audit entries: {doubled[:3]}")
    status, text, _ = admin_call(server.port, "GET", f"/api/admin/rag/documents/{TENANT}")
    if status != 200:
        return problems + [f"document listing answered {status}"]
    listed = json.loads(text)["documents"]
    for d in listed:
        if d.get("status") == "indexed" and d.get("object_key"):
            if not os.path.exists(os.path.join(data_dir, "objects", d["object_key"])):
                problems.append(f"document {d['id']} is listed indexed but its original is gone")
    stats.listed_documents = len(listed)
    return problems


def check_attacks(server, stats, data_dir, slow_sockets):
    problems = list(stats.problems)
    bad_health = [h for h in stats.health if h[0] != 200]
    if bad_health:
        problems.append(f"/api/health failed {len(bad_health)} of {len(stats.health)} probes during the slow-body attack: {bad_health[:3]}")
    if slow_sockets and stats.slow_never_closed:
        problems.append(f"{stats.slow_never_closed} slow-body sockets were never closed")
    late = [t for t in stats.slow_closed_after if t > server.body_deadline + 3]
    if late:
        problems.append(f"{len(late)} slow-body sockets were closed late (max {max(late):.1f} s, deadline {server.body_deadline} s)")
    return problems + check_documents(server, stats, data_dir)


def check(server, stats, data_dir):
    problems = list(stats.errors)
    db = sqlite3.connect(os.path.join(data_dir, "state.db"))
    if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
        problems.append("SQLite integrity check failed")
    replies = {}
    for (body,) in db.execute("SELECT body FROM messages"):
        m = json.loads(body)
        if m["role"] == "assistant" and m["content"]:
            key = (m["session_id"], m["content"], m["created_at"])
            replies[key] = replies.get(key, 0) + 1
    ids = db.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM messages").fetchone()
    if ids[0] != ids[1]:
        problems.append("a message id is stored twice")
    if any(n > 1 for n in replies.values()):
        problems.append("a reply is stored twice")
    stored = {(s, c) for (s, c, _) in replies}
    goals = {}
    for (body,) in db.execute("SELECT body FROM goals"):
        g = json.loads(body)
        goals[g["id"]] = g
    for session, phase, full_response, final in stats.acknowledged:
        if full_response and (session, full_response) not in stored:
            problems.append(f"an acknowledged reply of {session} is not stored")
        if final and not goals.get(final, {}).get("is_final"):
            problems.append(f"an acknowledged final goal of {session} ({phase}) is not stored")
    for session, token in stats.confirmed:
        status, text = request(server.port, "GET", f"/api/goals/session/{session}?final_only=true", token=token)
        finals = json.loads(text).get("goals", []) if status == 200 else []
        if len(finals) != 3:
            problems.append(f"confirmed session {session} has {len(finals)} final goals")
    locked = [s for (s,) in db.execute("SELECT session_id FROM conversations WHERE json_extract(body, '$.lease') IS NOT NULL")]
    if locked:
        problems.append(f"{len(locked)} sessions still hold a lease at the end")
    if stats.disconnect_waits and max(stats.disconnect_waits) > 1.0:
        problems.append(f"a disconnect locked a session for {max(stats.disconnect_waits):.2f} s")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=int, default=40)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--lease", type=int, default=5, help="PETRAF_TURN_LEASE_SECONDS")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "petraf"))
    parser.add_argument("--no-kill", action="store_true", help="skip the kill -9 and restart")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--slow-sockets", type=int, default=150,
                        help="slow-body sockets from %s (more than the per-address cap of 128)" % ATTACKER)
    parser.add_argument("--body-deadline", type=int, default=4, help="PETRAF_BODY_DEADLINE_SECS")
    parser.add_argument("--races", type=int, default=20, help="replace/replace races (and a quarter as many delete/replace)")
    parser.add_argument("--no-attacks", action="store_true", help="journeys only")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="petraf-soak-")
    server = Server(args.binary, data_dir, args.lease, args.body_deadline)
    server.start()
    server.lift_address_limits()
    stats, crash = Stats(), threading.Event()
    rng = random.Random(args.seed)
    queue = list(range(args.journeys))
    queue_lock = threading.Lock()
    started = time.time()

    def worker(seed):
        local = random.Random(seed)
        while True:
            with queue_lock:
                if not queue:
                    return
                queue.pop()
            journey(server, stats, local, crash)

    threads = [threading.Thread(target=worker, args=(rng.random(),)) for _ in range(args.workers)]
    for t in threads:
        t.start()
    attacks = AttackStats()
    attackers = []

    def start_attacks():
        if args.no_attacks:
            return
        attackers.extend([
            threading.Thread(target=slow_body_attack, args=(server, args.slow_sockets, attacks)),
            threading.Thread(target=replace_races, args=(server, args.races, attacks, random.Random(args.seed))),
        ])
        for t in attackers:
            t.start()

    # The attacks run beside the journeys, after the kill when there is one
    # (a restart would cut their sockets and calls).
    if args.no_kill:
        start_attacks()
    restart_seconds = None
    if not args.no_kill:
        while stats.turns < args.journeys * 2 and any(t.is_alive() for t in threads):
            time.sleep(0.05)
        crash.set()
        server.kill9()
        killed = time.time()
        server.start()
        restart_seconds = time.time() - killed
        start_attacks()
    for t in threads + attackers:
        t.join()
    elapsed = time.time() - started
    problems = check(server, stats, data_dir)
    if attackers:
        problems += check_attacks(server, attacks, data_dir, args.slow_sockets)
    server.stop()

    print(f"journeys: {args.journeys} ({args.workers} at once), turns completed: {stats.turns}, "
          f"confirmed sessions: {len(stats.confirmed)}")
    print(f"elapsed: {elapsed:.1f} s, turns/s: {stats.turns / elapsed:.1f}")
    print(f"resumes from a second tab: {stats.resumes}, failed: {stats.resume_failures}")
    if stats.disconnect_waits:
        w = sorted(stats.disconnect_waits)
        print(f"locked after a reset: {len(w)} times, median {w[len(w) // 2] * 1000:.0f} ms, max {w[-1] * 1000:.0f} ms")
    if restart_seconds is not None:
        worst = max(stats.crash_waits, default=0.0)
        print(f"kill -9: restart took {restart_seconds:.2f} s; journeys cut by it: {len(stats.crash_waits)}, "
              f"longest from the cut to the next accepted turn {worst:.2f} s (bound: lease {args.lease} s + restart)")
        if worst > args.lease + restart_seconds + 2:
            problems.append(f"a session stayed locked {worst:.2f} s after the kill")
    if attackers:
        closed = sorted(attacks.slow_closed_after)
        if closed:
            print(f"slow bodies from {ATTACKER}: {args.slow_sockets} sockets, {attacks.slow_refused} refused at once "
                  f"(per-address cap), {len(closed)} closed by the server after median {closed[len(closed) // 2]:.1f} s, "
                  f"max {closed[-1]:.1f} s (deadline {args.body_deadline} s), never closed: {attacks.slow_never_closed}")
        probes = [t for _, t in attacks.health]
        ok = sum(1 for h, _ in attacks.health if h == 200)
        if probes:
            print(f"/api/health during the attack: {ok}/{len(probes)} answered 200, slowest {max(probes) * 1000:.0f} ms")
        kinds = {}
        for kind, statuses in attacks.races:
            kinds.setdefault(kind, []).append(statuses)
        for kind, runs in kinds.items():
            winners = sum(1 for r in runs if r.count(200) == 1)
            print(f"{kind} races: {len(runs)}, exactly one winner in {winners}; "
                  f"losers answered {sorted(set(s for r in runs for s in r if s != 200), key=str)}")
        print(f"documents listed at the end: {getattr(attacks, 'listed_documents', '?')}")
    print(f"unexpected answers: {len(stats.errors)}")
    for p in problems:
        print("FAIL:", p)
    print("all invariants hold" if not problems else f"{len(problems)} problems")
    if problems or args.keep:
        print(f"data directory kept: {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
