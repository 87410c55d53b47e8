#!/usr/bin/env python3
"""Soak and chaos for `petraf serve`, on loopback only, bounded in time.

Runs N employees' journeys (Sarah's walkthrough script) against a fresh
`petraf serve` with random disconnects (a TCP reset right after a chat
turn is sent), resumes from a second "tab" beside every turn, and one
`kill -9` of the server plus a restart half-way. Then it checks:

  * every turn that got `complete` is stored (its reply; its goal if final);
  * no session stays locked (409) longer than the bound: 1 s after a
    disconnect, one lease term (+ restart time) after the kill;
  * no duplicate messages (no stored reply twice, no id twice);
  * every confirmed session has three final goals;
  * SQLite's integrity check passes.

Usage: scripts/soak.py [--journeys 40] [--workers 8] [--lease 5] [--seed 1]
                       [--binary target/release/petraf]
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


class Server:
    """`petraf serve` on a free loopback port and a private data directory."""

    def __init__(self, binary, data_dir, lease):
        self.binary, self.data_dir, self.lease = binary, data_dir, lease
        self.port = free_port()
        self.proc = None

    def start(self):
        env = dict(os.environ, PETRAF_DATA_DIR=self.data_dir,
                   PETRAF_ADDR=f"127.0.0.1:{self.port}",
                   PETRAF_TURN_LEASE_SECONDS=str(self.lease), RUST_LOG="warn")
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
        subprocess.run([self.binary, "tenant", "limits", TENANT, "--sessions-per-address-per-hour", "0",
                        "--turns-per-address-per-minute", "0"], env=env, check=True,
                       stdout=subprocess.DEVNULL)

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
            if status == 409:
                locked_since = locked_since or started
                reason = reason or "crash_waits"
                if time.time() - locked_since > server.lease + 30:
                    stats.add("errors", f"session {session} locked for good")
                    return
                time.sleep(0.05)
                continue
            if status == 400 and '"phase_mismatch"' in text:
                # The reset turn ran to completion after all: the phase moved on.
                break
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
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="petraf-soak-")
    server = Server(args.binary, data_dir, args.lease)
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
    restart_seconds = None
    if not args.no_kill:
        while stats.turns < args.journeys * 2 and any(t.is_alive() for t in threads):
            time.sleep(0.05)
        crash.set()
        server.kill9()
        killed = time.time()
        server.start()
        restart_seconds = time.time() - killed
    for t in threads:
        t.join()
    elapsed = time.time() - started
    problems = check(server, stats, data_dir)
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
