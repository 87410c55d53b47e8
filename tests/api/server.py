"""`petraf serve` for the API tests (tests/api/fuzz.py, tests/api/client_journey.py):
embedded stores and the offline model in a fresh data directory, on a free
loopback port, with a known platform admin key."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

DEMO_TENANT = "550e8400-e29b-41d4-a716-446655440000"
PLATFORM_KEY = "platform_sk_fuzz_0123456789abcdef0123456789abcdef"
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
