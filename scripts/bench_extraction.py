#!/usr/bin/env python3
"""Extraction speed and memory of the isolated worker against poppler's
pdftotext, on the same PDFs in the same run (Debian: apt-get install
poppler-utils). Results and the command: BENCHMARKS.md.

Usage: scripts/bench_extraction.py <worker-executable> [runs]
The worker is any Petraf binary that calls run_if_worker(), e.g.
target/release/petraf or target/debug/petraf-extract-worker.
"""
import glob
import json
import math
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMITS = json.dumps({
    "memory_bytes": 1536 << 20, "cpu_seconds": 10, "wall_millis": 20000, "max_pages": 2000,
    "max_chars": 5000000, "max_unpacked_bytes": 200 << 20, "max_html_bytes": 5 << 20,
    "max_html_depth": 512, "stack_bytes": 256 << 20,
})


def timed(command, data=None):
    started = time.perf_counter()
    done = subprocess.run(command, input=data, capture_output=True, check=False)
    return time.perf_counter() - started, done


def main():
    worker = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print("| file | pages | worker ms | pages/s | pdftotext ms | pages/s | worker ÷ pdftotext | peak worker RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    logs = []
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/documents/gen/*.pdf"))):
        data = open(path, "rb").read()
        ours, theirs, pages, peak, failure = [], [], 0, 0, None
        for _ in range(runs):
            took, done = timed([worker, "--petraf-extract-worker", "pdf", LIMITS], data)
            ours.append(took)
            reply = json.loads(done.stdout)
            peak = max(peak, reply["peak_rss_kib"])
            if "Ok" in reply["outcome"]:
                pages = reply["outcome"]["Ok"]["pages"]
            else:
                failure = reply["outcome"]["Err"]["kind"]
            theirs.append(timed(["pdftotext", path, "/dev/null"])[0])
        mine, poppler = statistics.median(ours), statistics.median(theirs)
        ratio = mine / poppler
        rate = lambda t: f"{pages / t:.0f}" if pages else "—"
        if pages:
            logs.append(math.log(ratio))
        name = os.path.basename(path) + (f" ({failure})" if failure else "")
        print(f"| {name} | {pages or '—'} | {mine * 1e3:.0f} | {rate(mine)} | {poppler * 1e3:.0f} | {rate(poppler)} | {ratio:.2f}× | {peak / 1024:.0f} |")
    print(f"\nGeometric mean worker ÷ pdftotext over the {len(logs)} files with text: {math.exp(sum(logs) / len(logs)):.2f}×")


if __name__ == "__main__":
    main()
