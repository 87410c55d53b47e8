"""Schemathesis hooks for scripts/api-fuzz.sh: most generated cases name the
real session, tenant and document (ids from the environment), so that the
fuzzer gets past authentication and lookups; the rest keep their random ids
and exercise the 401/403/404 paths."""

import os
import random

import schemathesis

REAL = {
    "id": os.environ.get("FUZZ_SESSION_ID"),
    "tenant_id": os.environ.get("FUZZ_TENANT_ID"),
    "document_id": os.environ.get("FUZZ_DOCUMENT_ID"),
}
QUERY = {
    "tenant_id": os.environ.get("FUZZ_TENANT_ID"),
    "session_id": os.environ.get("FUZZ_SESSION_ID"),
}


def _real(values, known, share):
    if not values:
        return values
    for name, value in known.items():
        if value and name in values and random.random() < share:
            values[name] = value
    return values


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    return _real(path_parameters, REAL, 0.85)


@schemathesis.hook
def map_query(context, query):
    return _real(query, QUERY, 0.5)


@schemathesis.hook
def map_body(context, body):
    # A chat turn names its session in the body: mostly the real one.
    if isinstance(body, dict) and "session_id" in body and REAL["id"] and random.random() < 0.85:
        body["session_id"] = REAL["id"]
    return body
