"""Schemathesis hooks for scripts/api-fuzz.sh: most generated cases name the
real session, tenant and document (ids from the environment), so that the
fuzzer gets past authentication and lookups; the rest keep their random ids
and exercise the 401/403/404 paths.

What the document cannot state, because it is stored state rather than
shape, the hooks supply to the parts of a case generated as valid
(`positive`) only; a part generated as invalid is left as it is:

- a destructive operation never reaches the fixture session or document:
  `DELETE /api/session/{id}` erases its own session (its token is set for
  that operation in the generated config, see fuzz.py), an erasure names a
  session of a pool made for it, a document delete deletes a document
  uploaded for it;
- `If-Match` is the resource's current `ETag` (a random revision is a
  valid header naming a revision that does not exist: `412`);
- an upload's file is a real document (random bytes are no format the
  server reads) and its `metadata` a JSON object;
- a message cursor is a message of the session;
- the platform key names the tenant of a session it reopens (`tenant_id`,
  which a tenant's key may leave out);
- a key revocation names a key the tenant has;
- a settings patch's changed rubric adds up to 100 with the criteria
  stored (a rule over the patch and the stored rubric together), and an
  audit query's `from` comes before its `to` (a rule between two
  parameters, which JSON Schema cannot state).

A settings change the fuzzer made is undone after its answer was checked:
random limits (one document, one session an hour, no token budget) would
otherwise turn every later operation into the same refusal.
"""

import datetime
import json
import os
import random
import urllib.error
import urllib.request

import schemathesis
from schemathesis.core.parameters import ParameterLocation

REAL = {
    "id": os.environ.get("FUZZ_SESSION_ID"),
    "session_id": os.environ.get("FUZZ_SESSION_ID"),
    "tenant_id": os.environ.get("FUZZ_TENANT_ID"),
    "document_id": os.environ.get("FUZZ_DOCUMENT_ID"),
}
QUERY = {
    "tenant_id": os.environ.get("FUZZ_TENANT_ID"),
    "session_id": os.environ.get("FUZZ_SESSION_ID"),
}
BASE = os.environ.get("FUZZ_BASE_URL", "")
ADMIN_KEY = os.environ.get("FUZZ_ADMIN_KEY", "")
SESSION = os.environ.get("FUZZ_SESSION_ID")
SESSION_TOKEN = os.environ.get("FUZZ_SESSION_TOKEN", "")
TENANT = os.environ.get("FUZZ_TENANT_ID")
# What the fixture session's own calls carry.
SESSION_HEADERS = {"X-Tenant-ID": TENANT or "", "Authorization": "Bearer " + SESSION_TOKEN}
# The session `DELETE /api/session/{id}` erases (its token is that
# operation's `Authorization`), and the sessions erasures name.
ERASABLE = os.environ.get("FUZZ_ERASABLE_SESSION_ID")
ERASURE_POOL = [s for s in os.environ.get("FUZZ_ERASURE_SESSIONS", "").split(",") if s]

DOCUMENT = b"# Mentoring guide\n\nSenior engineers mentor two juniors a year and review their designs.\n"

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _random_ulid():
    return random.choice("01234567") + "".join(random.choice(CROCKFORD) for _ in range(25))


def _request(method, path, body=None, headers=None, multipart=None):
    headers = {"X-Admin-Key": ADMIN_KEY, **(headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if multipart is not None:
        boundary = "fuzzboundary%016x" % random.getrandbits(64)
        parts = []
        for name, (filename, content) in multipart.items():
            disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
            parts.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n")
        data = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    request = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, None


def _positive(case, location):
    meta = case.meta
    return meta is None or not meta.is_negative_at(location)


def _label(case):
    return f"{case.method.upper()} {case.operation.path}"


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
    if (context.operation is not None and context.operation.path == "/api/chat/{phase}/stream"
            and isinstance(body, dict) and "session_id" in body and REAL["id"] and random.random() < 0.85):
        body["session_id"] = REAL["id"]
    return body


def _header(case, name):
    for key in list(case.headers or {}):
        if key.lower() == name.lower():
            return key
    return None


def _meant_valid(case, location, name=None):
    """Whether the case's part at `location` (its parameter `name`) was
    generated as valid: a positive case's all are; a coverage case names
    the one part it made invalid (it sends `0` for an optional header it
    could not fill as its pattern says, meaning it valid)."""
    meta = case.meta
    if meta is None or meta.generation.mode.is_positive:
        return True
    data = meta.phase.data
    mutated_location = getattr(data, "parameter_location", None)
    mutated = getattr(data, "parameter", None)
    if mutated_location is not None or mutated is not None:
        if mutated_location != location:
            return True
        return bool(name and mutated) and mutated.lower() != name.lower()
    return not meta.is_negative_at(location)


def _current_etag(case, path, missing=None):
    """Sets a valid If-Match the case carries to the resource's current ETag."""
    key = _header(case, "If-Match")
    if key is None or not _meant_valid(case, ParameterLocation.HEADER, "If-Match"):
        return
    status, headers, _ = _request("GET", path)
    if status == 200 and headers.get("ETag"):
        case.headers[key] = headers["ETag"]
    elif missing is not None:
        case.headers[key] = missing


def _real_document(case):
    body = case.body
    if not isinstance(body, dict) or not _meant_valid(case, ParameterLocation.BODY):
        return
    if "file" in body:
        body["file"] = DOCUMENT
    if "metadata" in body:
        body["metadata"] = json.dumps({"title": "Mentoring guide", "version": "1.0"})


def _fixture_employee_code():
    status, _, export = _request("GET", f"/api/session/{SESSION}/export", headers=SESSION_HEADERS)
    return ((export or {}).get("session") or {}).get("employee_code") if status == 200 else None


def _throwaway_document():
    status, _, report = _request("POST", f"/api/admin/rag/upload/{TENANT}", multipart={
        "file": (f"throwaway-{random.getrandbits(48):x}.md",
                 DOCUMENT + f"\nRevision {random.getrandbits(48):x}.\n".encode()),
        "category": (None, b"fuzz_throwaway"),
    })
    return report.get("document_id") if status == 200 and isinstance(report, dict) else None


def _rubrics_add_up(case):
    """A changed rubric's weights add up to 100 over the criteria it ends
    with, the stored ones included, and a criterion it adds has a weight:
    a rule of the stored rubric and the patch together. Each rubric the
    patch changes is written whole, its weights an equal share of 100."""
    body = case.body
    if not isinstance(body, dict) or not _meant_valid(case, ParameterLocation.BODY):
        return
    rubrics = body.get("scoring_rubrics")
    if not isinstance(rubrics, dict) or not any(isinstance(r, dict) and r for r in rubrics.values()):
        return
    status, _, settings = _request("GET", f"/api/admin/tenants/{TENANT}/settings")
    stored = (settings or {}).get("settings", {}).get("scoring_rubrics", {}) if status == 200 else {}
    for phase, patch in rubrics.items():
        if not isinstance(patch, dict) or not patch:
            continue
        kept = stored.get(phase) or {}
        # `null` removes a criterion; a rubric keeps at least one.
        names = [name for name in kept if patch.get(name, {}) is not None]
        names += [name for name, value in patch.items() if name not in kept and value is not None]
        if not names:
            names = [next(iter(kept), "clarity")]
        share = 100 / len(names)
        whole = {name: None for name, value in patch.items() if value is None and name not in names}
        for i, name in enumerate(names):
            criterion = dict(patch.get(name) or {})
            criterion["weight"] = share if i < len(names) - 1 else 100 - share * (len(names) - 1)
            whole[name] = criterion
        rubrics[phase] = whole


def _revocable_key(case):
    """A revocation names a key of the tenant: a new one (a random prefix
    names none: `404`), or, when the tenant holds as many active keys as it
    may, one of them (never the platform key the fuzzer signs with)."""
    path = case.path_parameters or {}
    if path.get("tenant_id") != TENANT or not _meant_valid(case, ParameterLocation.PATH) or random.random() > 0.85:
        return
    status, _, created = _request("POST", f"/api/admin/tenants/{TENANT}/admin-keys")
    if status == 201 and isinstance(created, dict):
        path["prefix"] = created["prefix"]
        return
    status, _, listed = _request("GET", f"/api/admin/tenants/{TENANT}/admin-keys")
    active = [key["prefix"] for key in (listed or {}).get("keys", []) if key.get("active")]
    if status == 200 and active:
        path["prefix"] = random.choice(active)


def _instant(value, end):
    """An audit bound as the server reads it: an RFC 3339 instant, or a day
    from its start (`from`) or to its end (`to`); None if neither."""
    if not isinstance(value, str):
        return None
    try:
        day = datetime.date.fromisoformat(value)
        start = datetime.datetime.combine(day, datetime.time(), datetime.timezone.utc)
        return start + datetime.timedelta(days=1) if end else start
    except ValueError:
        pass
    try:
        instant = datetime.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else None


def _from_before_to(case):
    """`from` comes before `to`: two valid bounds the wrong way round are
    swapped, and a `to` that cannot follow `from` is left out."""
    query = case.query or {}
    if "from" not in query or "to" not in query or not _meant_valid(case, ParameterLocation.QUERY):
        return
    start, end = _instant(query["from"], False), _instant(query["to"], True)
    if start is None or end is None or start == end:
        del query["to"]
    elif start > end:
        query["from"], query["to"] = query["to"], query["from"]
        if _instant(query["from"], False) >= _instant(query["to"], True):
            del query["to"]


@schemathesis.hook
def before_call(context, case, **kwargs):
    label = _label(case)
    path = case.path_parameters or {}
    if label == "DELETE /api/session/{id}":
        if path.get("id") == SESSION:
            path["id"] = ERASABLE
    elif label == "POST /api/admin/tenants/{tenant_id}/erasures":
        body = case.body
        if isinstance(body, dict) and _positive(case, ParameterLocation.BODY):
            if body.get("session_id"):
                body["session_id"] = ERASURE_POOL.pop() if ERASURE_POOL else _random_ulid()
            code = body.get("employee_code")
            if isinstance(code, str) and code.strip() and code.strip() == (_fixture_employee_code() or "").strip():
                body["employee_code"] = "FUZZ-NOBODY"
    elif label == "DELETE /api/admin/rag/documents/{tenant_id}/{document_id}":
        if path.get("document_id") == REAL["document_id"] and path.get("tenant_id") == TENANT:
            path["document_id"] = _throwaway_document() or _random_ulid()
        # A document that is not there (a random id, or deleted): any revision.
        _current_etag(case, f"/api/admin/rag/documents/{TENANT}/{path.get('document_id')}", missing="*")
    elif label == "PUT /api/admin/rag/documents/{tenant_id}/{document_id}":
        _real_document(case)
        # A document that is not there (a random id, or deleted): any revision.
        _current_etag(case, f"/api/admin/rag/documents/{TENANT}/{path.get('document_id')}", missing="*")
    elif label == "POST /api/admin/rag/upload/{tenant_id}":
        _real_document(case)
    elif label == "PATCH /api/admin/tenants/{tenant_id}/settings":
        _current_etag(case, f"/api/admin/tenants/{TENANT}/settings")
        _rubrics_add_up(case)
    elif label == "POST /api/admin/tenants/{tenant_id}/settings/preview":
        _rubrics_add_up(case)
    elif label == "GET /api/admin/audit-logs":
        _from_before_to(case)
    elif label == "DELETE /api/admin/tenants/{tenant_id}/admin-keys/{prefix}":
        _revocable_key(case)
    elif label == "POST /api/admin/sessions/{session_id}/phases/{phase}/reopen":
        if _positive(case, ParameterLocation.QUERY):
            case.query = {**(case.query or {}), "tenant_id": TENANT}
    elif label == "GET /api/session/{id}/messages":
        query = case.query or {}
        if query.get("cursor") and _positive(case, ParameterLocation.QUERY) and path.get("id") == SESSION:
            status, _, page = _request("GET", f"/api/session/{SESSION}/messages", headers=SESSION_HEADERS)
            messages = (page or {}).get("messages") or []
            if messages:
                query["cursor"] = random.choice(messages)["id"]
            else:
                del query["cursor"]


def _restoring_patch(current, baseline):
    """The merge patch that turns `current` back into `baseline`."""
    patch = {name: None for name in current if name not in baseline}
    for name, value in baseline.items():
        now = current.get(name)
        if isinstance(value, dict) and isinstance(now, dict):
            nested = _restoring_patch(now, value)
            if nested:
                patch[name] = nested
        elif now != value:
            patch[name] = value
    return patch


BASELINE_SETTINGS = {}


@schemathesis.hook
def after_call(context, case, response):
    if _label(case) != "PATCH /api/admin/tenants/{tenant_id}/settings" or response.status_code != 200:
        return
    if (case.path_parameters or {}).get("tenant_id") != TENANT:
        return
    status, _, current = _request("GET", f"/api/admin/tenants/{TENANT}/settings")
    if status != 200 or "settings" not in BASELINE_SETTINGS:
        return
    patch = _restoring_patch(current["settings"], BASELINE_SETTINGS["settings"])
    if patch:
        _request("PATCH", f"/api/admin/tenants/{TENANT}/settings", body=patch)


def _remember_settings():
    status, _, settings = _request("GET", f"/api/admin/tenants/{TENANT}/settings")
    if status == 200:
        BASELINE_SETTINGS["settings"] = settings["settings"]


if BASE and TENANT:
    _remember_settings()
