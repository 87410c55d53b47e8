#!/usr/bin/env python3
"""The API against its published contract (run by scripts/api-fuzz.sh).

Starts `petraf serve` (embedded stores, offline model) on a free port with a
fresh data directory, then:

1. validates the served /api/openapi.json (openapi-spec-validator) and checks
   it equals the committed openapi.json;
2. drives an employee's whole journey — create → info → chat (three phases)
   → complete → goals → export — through the document alone: each call is
   the documented operation, built and checked by schemathesis (status code,
   content type, headers, body schema; every chat event against its schema);
3. runs schemathesis over every operation with a tenant, a live session
   token and the platform admin key: no 5xx, no response outside its
   documented schema, no undocumented status code.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import schemathesis
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

DEMO_TENANT = "550e8400-e29b-41d4-a716-446655440000"
PLATFORM_KEY = "platform_sk_fuzz_0123456789abcdef0123456789abcdef"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONFIG = os.path.join(HERE, "schemathesis.toml")

PROFILE = {"employee_code": "EMP12345", "department": "Engineering", "position": "Software Engineer",
           "grade": "L4", "years_of_service": 3, "age_range": "28-32", "job_type": "full_time"}
TURNS = [
    ("g4_future", "I want to become a senior engineer and maybe start leading a small team. "
                  "I'd like to work on more complex systems and mentor junior developers."),
    ("g4_future", "I want to master distributed systems and microservices architecture. "
                  "I'd like to lead a team of 3-4 developers and work on our payment processing platform."),
    ("g6_values", "I really value continuous learning, collaboration with my team, technical excellence, "
                  "and making an impact through good code. Also work-life balance is important to me."),
    ("g8_actions", "In the next 6 months I will:\n1. Complete AWS Solutions Architect certification\n"
                   "2. Lead the payment gateway migration project\n3. Mentor 2 junior developers (Mike and Jenny)\n"
                   "4. Present at our monthly tech talks about microservices\n"
                   "5. Improve our deployment pipeline to reduce downtime\n6. Read 3 books on distributed systems"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary):
        self.data_dir = tempfile.mkdtemp(prefix="petraf-fuzz-")
        self.base = f"http://127.0.0.1:{free_port()}"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PETRAF_STATE", "PETRAF_VECTOR", "PETRAF_MODEL", "PETRAF_DOCUMENT"))}
        env.update(PETRAF_ADDR=self.base.removeprefix("http://"), PETRAF_DATA_DIR=self.data_dir,
                   PETRAF_PLATFORM_ADMIN_KEY=PLATFORM_KEY, RUST_LOG="warn")
        self.log = open(os.path.join(self.data_dir, "serve.log"), "w+")
        self.process = subprocess.Popen([binary, "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.base + "/api/health", timeout=2)
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.3)
        raise RuntimeError("petraf serve did not start:\n" + self.logs())

    def logs(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def check_document(server):
    served = urllib.request.urlopen(server.base + "/api/openapi.json").read().decode()
    document = json.loads(served)
    validate(document)
    with open(os.path.join(ROOT, "openapi.json")) as f:
        assert f.read() == served, "the served document differs from openapi.json"
    print(f"openapi.json: valid OpenAPI {document['openapi']}, {len(document['paths'])} paths, same as served")


CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance,
               response_headers_conformance, response_schema_conformance]


class Journey:
    """Calls operations as the document describes them, validating each answer."""

    def __init__(self, server):
        self.base = server.base
        config = schemathesis.Config.from_path(CONFIG)
        self.schema = schemathesis.openapi.from_url(server.base + "/api/openapi.json", config=config)
        self.calls = 0

    def call(self, method, path, expect, **parts):
        case = self.schema[path][method].Case(**parts)
        response = case.call(base_url=self.base)
        # The conformance checks only: the X-Tenant-ID scheme names a tenant
        # rather than proves who calls, so a call without it is a 404
        # (`tenant_not_found`), not the 401 schemathesis' `ignored_auth` expects.
        case.validate_response(response, checks=CONFORMANCE)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text[:300]}"
        self.calls += 1
        return response


def sse_events(text):
    events = []
    for block in text.split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if name:
            events.append((name, json.loads("\n".join(data))))
    return events


def run_journey(server):
    j = Journey(server)
    tenant = {"X-Tenant-ID": DEMO_TENANT}
    created = j.call("POST", "/api/session/create", 201, headers=tenant,
                     body={"metadata": {"source": "fuzz"}}, media_type="application/json").json()
    session, auth = created["session_id"], {**tenant, "Authorization": "Bearer " + created["resume_token"]}
    ids = {"id": session}
    info = j.call("PUT", "/api/session/{id}/info", 200, path_parameters=ids, headers=auth,
                  body=PROFILE, media_type="application/json").json()
    assert info["current_phase"] == "g4_future", info
    for phase, message in TURNS:
        response = j.call("POST", "/api/chat/{phase}/stream", 200, path_parameters={"phase": phase},
                          headers=auth, body={"session_id": session, "message": message, "step": "collect"},
                          media_type="application/json")
        names = [name for name, _ in sse_events(response.text)]
        assert names[0] == "start" and names[-1] == "complete", names
    j.call("POST", "/api/session/{id}/complete", 200, path_parameters=ids, headers=auth)
    goals = j.call("GET", "/api/goals/session/{id}", 200, path_parameters=ids, headers=auth,
                   query={"final_only": "true"}).json()
    assert goals["completed"] == 3 and all(g["is_final"] for g in goals["goals"]), goals
    j.call("GET", "/api/goals/session/{id}/export", 200, path_parameters=ids, headers=auth, query={"format": "md"})
    resumed = j.call("POST", "/api/session/resume", 200, headers=tenant,
                     body={"resume_token": created["resume_token"]}, media_type="application/json").json()
    assert resumed["status"] == "completed", resumed
    print(f"journey: create → info → 4 chat turns → complete → goals → export → resume: {j.calls} calls, "
          "every answer as documented")


def fuzz_fixtures(server):
    """A session with its profile, and a document, for the fuzzer to use."""
    def post(path, body, headers, method="POST"):
        request = urllib.request.Request(server.base + path, data=json.dumps(body).encode(), method=method,
                                         headers={"Content-Type": "application/json", **headers})
        return json.loads(urllib.request.urlopen(request).read())
    tenant = {"X-Tenant-ID": DEMO_TENANT}
    created = post("/api/session/create", {}, tenant)
    auth = {**tenant, "Authorization": "Bearer " + created["resume_token"]}
    post(f"/api/session/{created['session_id']}/info", PROFILE, auth, method="PUT")
    request = urllib.request.Request(f"{server.base}/api/admin/rag/documents/{DEMO_TENANT}",
                                     headers={"X-Admin-Key": PLATFORM_KEY})
    documents = json.loads(urllib.request.urlopen(request).read())["documents"]
    return created["session_id"], created["resume_token"], documents[0]["id"]


def run_fuzzer(server, args):
    session, token, document = fuzz_fixtures(server)
    env = dict(os.environ, SCHEMATHESIS_HOOKS="hooks", PYTHONPATH=HERE, FUZZ_SESSION_ID=session,
               FUZZ_TENANT_ID=DEMO_TENANT, FUZZ_DOCUMENT_ID=document)
    command = [
        os.path.join(os.path.dirname(sys.executable), "st"), "--config-file", CONFIG,
        "run", server.base + "/api/openapi.json",
        "--header", f"X-Tenant-ID: {DEMO_TENANT}",
        "--header", f"Authorization: Bearer {token}",
        "--header", f"X-Admin-Key: {PLATFORM_KEY}",
        "--checks", args.checks,
        "--phases", args.phases,
        "--max-examples", str(args.max_examples),
        "--seed", str(args.seed),
        "--workers", "1",
        "--generation-with-security-parameters", "false",
        "--suppress-health-check", "all",
        "--no-color",
    ] + args.extra
    print("$", " ".join(command[1:]), flush=True)
    # Its caches go beside the server's data, not into the repository.
    return subprocess.call(command, env=env, cwd=server.data_dir)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--petraf", required=True, help="the petraf binary")
    parser.add_argument("--max-examples", type=int, default=60)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--phases", default="examples,coverage,fuzzing")
    parser.add_argument("--checks", default="not_a_server_error,status_code_conformance,content_type_conformance,"
                                            "response_headers_conformance,response_schema_conformance")
    parser.add_argument("extra", nargs="*", help="more `st run` options (after --)")
    args = parser.parse_args()
    server = Server(args.petraf)
    try:
        check_document(server)
        run_journey(server)
        code = run_fuzzer(server, args)
        if code != 0:
            print("petraf serve's log (tail):\n" + server.logs()[-4000:])
        return code
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
