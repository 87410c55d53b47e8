"""A stand-in for the RDS Data API in front of a real PostgreSQL.

It speaks the service's own protocol (restJson1: POST /Execute,
/BatchExecute, /BeginTransaction, /CommitTransaction, /RollbackTransaction)
so the AWS SDK reaches it through an endpoint override, and it answers as
the service does for Aurora PostgreSQL (Serverless v2 / provisioned):

- typed `Field` values both ways; `stringValue` parameters are sent as
  varchar unless a `typeHint` (DATE, TIME, TIMESTAMP, DECIMAL, JSON, UUID)
  says otherwise, so SQL must cast; `:name` placeholders are found outside
  single-quoted strings, double-quoted names and comments (not inside
  `$$` bodies, as the service);
- `includeResultMetadata`, `formatRecordsAs: JSON`, `resultSetOptions`;
- timestamptz comes back as a UTC wall-clock string without its offset;
- a statement without `transactionId` commits by itself; a failed
  statement inside a transaction ends (rolls back) the transaction; an
  idle transaction expires after 3 minutes;
- the limits: a 1 MiB answer (UnsupportedResultException), a 4 MiB
  request, 65,536 characters of SQL;
- SQL errors as DatabaseErrorException, "ERROR: ...; SQLState: 23505".

A control endpoint (not part of the service) makes a database answer
DatabaseResumingException for its next N calls, as an auto-paused cluster
does while it wakes, and reports per-database call counts:

    POST /_standin/resuming   {"database": "d", "calls": 2}
    GET  /_standin/stats?database=d

Run: python data_api.py --port P --pg-port Q --resource-arn A --secret-arn S
"""

import argparse
import base64
import json
import re
import secrets
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError

RESPONSE_LIMIT = 1024 * 1024
REQUEST_LIMIT = 4 * 1024 * 1024
SQL_LIMIT = 65536
TRANSACTION_IDLE_SECONDS = 180
ERROR_NAMESPACE = ":http://internal.amazon.com/coral/com.amazon.rdsdataservice/"

# PostgreSQL type OIDs the answers are typed by.
BOOL, BYTEA, INT8, INT2, INT4, OID = 16, 17, 20, 21, 23, 26
FLOAT4, FLOAT8, NUMERIC = 700, 701, 1700
VARCHAR, TIMESTAMP, TIMESTAMPTZ = 1043, 1114, 1184
INTEGERS = {INT8, INT2, INT4, OID}
FLOATS = {FLOAT4, FLOAT8}
ARRAYS = {
    1000: "booleanValues",
    1005: "longValues",
    1007: "longValues",
    1016: "longValues",
    1021: "doubleValues",
    1022: "doubleValues",
    1009: "stringValues",
    1015: "stringValues",
    1014: "stringValues",
}
TYPE_HINTS = {
    "DATE": 1082,
    "TIME": 1083,
    "TIMESTAMP": TIMESTAMP,
    "DECIMAL": NUMERIC,
    "JSON": 114,
    "UUID": 2950,
}
# java.sql.Types, as columnMetadata.type reports them.
JDBC_TYPES = {
    BOOL: -7, BYTEA: -2, INT8: -5, INT2: 5, INT4: 4, OID: -5, FLOAT4: 7,
    FLOAT8: 8, NUMERIC: 2, VARCHAR: 12, 25: 12, 1042: 1, 1082: 91, 1083: 92,
    TIMESTAMP: 93, TIMESTAMPTZ: 93,
}


class ApiError(Exception):
    """An answer the service gives as an error: its type, message and status."""

    def __init__(self, kind, message, status=400):
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status


def database_error(e):
    """A PostgreSQL error as the service words it."""
    fields = e.args[0] if e.args and isinstance(e.args[0], dict) else {}
    parts = [f"{fields.get('S', 'ERROR')}: {fields.get('M', str(e))}"]
    for key, label in (("D", "Detail"), ("H", "Hint"), ("P", "Position")):
        if key in fields:
            parts.append(f"{label}: {fields[key]}")
    parts.append(f"SQLState: {fields.get('C', 'XX000')}")
    return ApiError("DatabaseErrorException", "; ".join(parts))


def placeholders(sql):
    """`:name` placeholders rewritten to `$n`, and the names in `$` order."""
    out, names, i, n = [], [], 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            end = sql.find(c, i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == c:
                end = sql.find(c, end + 2)
            end = n if end == -1 else end + 1
            out.append(sql[i:end])
            i = end
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end])
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end == -1 else end + 2
            out.append(sql[i:end])
            i = end
        elif sql.startswith("::", i):
            out.append("::")
            i += 2
        elif c == ":" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_"):
            m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", sql[i + 1 :])
            name = m.group(0)
            if name not in names:
                names.append(name)
            out.append(f"${names.index(name) + 1}")
            i += 1 + len(name)
        else:
            out.append(c)
            i += 1
    return "".join(out), names


def parameter(param):
    """A SqlParameter as (text or None, type OID)."""
    value = param.get("value") or {}
    hint = param.get("typeHint")
    if len(value) != 1:
        raise ApiError("BadRequestException", f"Invalid value for parameter {param.get('name')}")
    (kind, v), = value.items()
    if kind == "isNull":
        return None, 0
    if kind == "booleanValue":
        return ("true" if v else "false"), BOOL
    if kind == "longValue":
        return str(int(v)), INT8
    if kind == "doubleValue":
        return repr(float(v)), FLOAT8
    if kind == "stringValue":
        if hint is not None and hint not in TYPE_HINTS:
            raise ApiError("BadRequestException", f"Invalid typeHint {hint}")
        return v, TYPE_HINTS.get(hint, VARCHAR)
    if kind == "blobValue":
        return "\\x" + base64.b64decode(v).hex(), BYTEA
    if kind == "arrayValue":
        raise ApiError("BadRequestException", "Array parameters are not supported.")
    raise ApiError("BadRequestException", f"Unknown value type {kind}")


def bind(sql, params):
    """The statement with `$n` placeholders, its values and their types."""
    if len(sql) > SQL_LIMIT:
        raise ApiError(
            "BadRequestException",
            f"Number of characters in SQL statement is longer than {SQL_LIMIT}",
        )
    statement, names = placeholders(sql)
    given = {p.get("name"): parameter(p) for p in params or []}
    missing = [name for name in names if name not in given]
    if missing:
        raise ApiError("BadRequestException", f"No value specified for parameter: {missing[0]}")
    values = tuple(given[name][0] for name in names)
    oids = tuple(given[name][1] for name in names)
    return statement, values, oids


def array_items(text):
    """The elements of a one-dimensional PostgreSQL array literal."""
    if text.startswith("[") or text[1:2] == "{":
        raise ApiError("UnsupportedResultException", "The result contains a multidimensional array")
    items, i, body = [], 0, text[1:-1]
    while i < len(body):
        if body[i] == '"':
            j, item = i + 1, []
            while body[j] != '"':
                if body[j] == "\\":
                    j += 1
                item.append(body[j])
                j += 1
            items.append("".join(item))
            i = j + 2
        else:
            j = body.find(",", i)
            j = len(body) if j == -1 else j
            raw = body[i:j]
            items.append(None if raw == "NULL" else raw)
            i = j + 1
    return items


def typed(text, oid, options):
    """A value in PostgreSQL's text form as (Field union member, plain value)."""
    if text is None:
        return {"isNull": True}, None
    if oid == BOOL:
        return {"booleanValue": text == "t"}, text == "t"
    if oid in INTEGERS:
        if options.get("longReturnType") == "STRING":
            return {"stringValue": text}, text
        return {"longValue": int(text)}, int(text)
    if oid in FLOATS:
        return {"doubleValue": float(text)}, float(text)
    if oid == NUMERIC and options.get("decimalReturnType") == "DOUBLE_OR_LONG":
        number = float(text) if any(c in text for c in ".eEN") else int(text)
        key = "doubleValue" if isinstance(number, float) else "longValue"
        return {key: number}, number
    if oid == BYTEA:
        blob = base64.b64encode(bytes.fromhex(text[2:])).decode()
        return {"blobValue": blob}, blob
    if oid == TIMESTAMPTZ:
        # The session runs in UTC; the service drops the offset.
        text = re.sub(r"[+-]\d\d(:\d\d)?$", "", text)
    if oid in ARRAYS:
        key = ARRAYS[oid]
        items = array_items(text)
        convert = {"booleanValues": lambda s: s == "t", "longValues": int, "doubleValues": float}.get(
            key, lambda s: s
        )
        values = [None if s is None else convert(s) for s in items]
        return {"arrayValue": {key: values}}, values
    return {"stringValue": text}, text


class Cluster:
    """The PostgreSQL behind the API: connections by database, open
    transactions, and the calls each database has seen."""

    def __init__(self, pg_host, pg_port, pg_user, resource_arn, secret_arn):
        self.pg = dict(host=pg_host, port=pg_port, user=pg_user)
        self.resource_arn, self.secret_arn = resource_arn, secret_arn
        self.lock = threading.Lock()
        self.idle = defaultdict(list)  # database -> autocommit connections
        self.transactions = {}  # id -> Transaction
        self.resuming = defaultdict(int)  # database -> calls still to refuse
        self.stats = defaultdict(lambda: defaultdict(int))

    def connect(self, database):
        try:
            conn = pg8000.native.Connection(
                database=database, startup_params={"TimeZone": "UTC"}, **self.pg
            )
        except DatabaseError as e:
            fields = e.args[0] if e.args and isinstance(e.args[0], dict) else {}
            if fields.get("C") == "3D000":
                raise ApiError("DatabaseNotFoundException", f"Database {database} not found")
            raise database_error(e)
        except (InterfaceError, OSError) as e:
            raise ApiError("DatabaseUnavailableException", f"The database is unavailable: {e}", 504)
        # Every value arrives as PostgreSQL's text and is typed by its OID here.
        for oid in list(conn.pg_types):
            conn.pg_types[oid] = str
        conn.pg_types.default_factory = lambda: str
        return conn

    def check(self, body, operation, database):
        if body.get("resourceArn") != self.resource_arn:
            raise ApiError("BadRequestException", f"Invalid cluster arn: {body.get('resourceArn')}")
        if body.get("secretArn") != self.secret_arn:
            raise ApiError(
                "BadRequestException",
                f"Error fetching secret {body.get('secretArn')} : Secrets Manager can't find the specified secret.",
            )
        with self.lock:
            self.stats[database][operation] += 1
            if self.resuming[database] > 0:
                self.resuming[database] -= 1
                self.stats[database]["refusedWhileResuming"] += 1
                raise ApiError(
                    "DatabaseResumingException",
                    "The Aurora DB instance petraf-standin is resuming after being auto-paused. "
                    "Please wait a few seconds and try again.",
                )

    def autocommit(self, database, work):
        """Runs `work(conn)` on a pooled connection outside any transaction."""
        with self.lock:
            conn = self.idle[database].pop() if self.idle[database] else None
        conn = conn or self.connect(database)
        try:
            result = work(conn)
        except DatabaseError as e:
            self.release(database, conn)
            raise database_error(e)
        except (InterfaceError, OSError) as e:
            raise ApiError("DatabaseUnavailableException", f"The database is unavailable: {e}", 504)
        self.release(database, conn)
        return result

    def release(self, database, conn):
        """Back to the pool with its session reset, as a fresh connection."""
        try:
            conn.run("DISCARD ALL")
        except Exception:
            try:
                conn.close()
            except Exception:
                pass
            return
        with self.lock:
            self.idle[database].append(conn)

    def begin(self, database):
        conn = self.connect(database)
        try:
            conn.run("BEGIN")
        except DatabaseError as e:
            conn.close()
            raise database_error(e)
        transaction = Transaction(secrets.token_urlsafe(48), database, conn)
        with self.lock:
            self.transactions[transaction.id] = transaction
            self.stats[database]["openTransactions"] += 1
        return transaction.id

    def transaction(self, transaction_id, kind="BadRequestException"):
        with self.lock:
            transaction = self.transactions.get(transaction_id)
        if transaction is None:
            status = 404 if kind == "NotFoundException" else 400
            raise ApiError(kind, f"Transaction {transaction_id} is not found", status)
        return transaction

    def end(self, transaction, sql, outcome):
        """Commits or rolls back, then forgets the transaction."""
        with self.lock:
            if self.transactions.pop(transaction.id, None) is None:
                return False
            self.stats[transaction.database]["openTransactions"] -= 1
            self.stats[transaction.database][outcome] += 1
        try:
            transaction.conn.run(sql)
        except DatabaseError as e:
            raise database_error(e)
        finally:
            try:
                transaction.conn.close()
            except Exception:
                pass
        return True

    def in_transaction(self, transaction_id, work):
        """Runs `work(conn)` in the transaction; an error ends it, as the
        service's "transaction was aborted due to an error" does."""
        transaction = self.transaction(transaction_id)
        if not transaction.busy.acquire(blocking=False):
            raise ApiError("DatabaseErrorException", "Transaction is still running a query")
        try:
            transaction.last_used = time.monotonic()
            try:
                return work(transaction.conn)
            except DatabaseError as e:
                self.end(transaction, "ROLLBACK", "abortedByError")
                raise database_error(e)
            except ApiError:
                self.end(transaction, "ROLLBACK", "abortedByError")
                raise
        finally:
            transaction.last_used = time.monotonic()
            transaction.busy.release()

    def expire_idle(self):
        while True:
            time.sleep(5)
            now = time.monotonic()
            with self.lock:
                stale = [
                    t
                    for t in self.transactions.values()
                    if now - t.last_used > TRANSACTION_IDLE_SECONDS and not t.busy.locked()
                ]
            for transaction in stale:
                try:
                    self.end(transaction, "ROLLBACK", "expired")
                except ApiError:
                    pass


class Transaction:
    def __init__(self, transaction_id, database, conn):
        self.id, self.database, self.conn = transaction_id, database, conn
        self.busy = threading.Lock()
        self.last_used = time.monotonic()


def run(conn, statement, values, oids):
    """Runs one statement; returns (columns or None, rows, rows affected)."""
    context = conn.execute_unnamed(statement, vals=values, oids=oids)
    return context.columns, context.rows or [], max(context.row_count, 0)


def column_metadata(columns, type_names):
    return [
        {
            "name": c["name"],
            "label": c["name"],
            "type": JDBC_TYPES.get(c["type_oid"], 2003 if c["type_oid"] in ARRAYS else 1111),
            "typeName": type_names.get(c["type_oid"], "unknown"),
            "schemaName": "",
            "tableName": "",
            "isAutoIncrement": False,
            "isSigned": c["type_oid"] in INTEGERS | FLOATS | {NUMERIC},
            "isCurrency": False,
            "isCaseSensitive": c["type_oid"] not in INTEGERS | FLOATS | {NUMERIC, BOOL},
            "nullable": 2,
            "precision": max(c["type_size"], 0),
            "scale": 0,
            "arrayBaseColumnType": 0,
        }
        for c in columns
    ]


class Handler(BaseHTTPRequestHandler):
    cluster: Cluster = None
    type_names = {}  # database -> {oid: name}; extension types differ by database
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, payload, error_type=None):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", secrets.token_hex(16))
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type + ERROR_NAMESPACE)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/_standin/stats":
            database = parse_qs(url.query).get("database", [""])[0]
            with self.cluster.lock:
                stats = dict(self.cluster.stats.get(database, {}))
            return self.answer(200, stats)
        if url.path == "/_standin/health":
            return self.answer(200, {"ok": True})
        self.answer(404, {"message": "Not found"}, "NotFoundException")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            if length > REQUEST_LIMIT:
                raise ApiError(
                    "BadRequestException",
                    f"Request size {length} bytes exceeds the limit of {REQUEST_LIMIT} bytes",
                    413,
                )
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise ApiError("SerializationException", "Malformed JSON request")
            route = {
                "/Execute": self.execute,
                "/BatchExecute": self.batch_execute,
                "/BeginTransaction": self.begin_transaction,
                "/CommitTransaction": self.commit_transaction,
                "/RollbackTransaction": self.rollback_transaction,
                "/_standin/resuming": self.set_resuming,
            }.get(urlparse(self.path).path)
            if route is None:
                raise ApiError("UnknownOperationException", f"No operation at {self.path}", 404)
            result = route(body)
            encoded = json.dumps(result).encode()
            if len(encoded) > RESPONSE_LIMIT:
                raise ApiError("UnsupportedResultException", "The result exceeds the size limit 1 MB")
            self.answer(200, result)
        except ApiError as e:
            self.answer(e.status, {"message": e.message}, e.kind)
        except Exception as e:  # a bug here, reported as the service's 500
            self.answer(500, {"message": f"{type(e).__name__}: {e}"}, "InternalServerErrorException")

    def database_of(self, body):
        transaction_id = body.get("transactionId")
        if transaction_id:
            return self.cluster.transaction(transaction_id).database
        return body.get("database") or "postgres"

    def set_resuming(self, body):
        with self.cluster.lock:
            self.cluster.resuming[body["database"]] = int(body.get("calls", 1))
        return {}

    def type_name_map(self, database, conn, columns):
        known = Handler.type_names.setdefault(database, {})
        if any(c["type_oid"] not in known for c in columns):
            rows = conn.execute_unnamed("SELECT oid, typname FROM pg_type").rows
            known.update({int(oid): name for oid, name in rows})
        return known

    def execute(self, body):
        database = self.database_of(body)
        self.cluster.check(body, "ExecuteStatement", database)
        statement, values, oids = bind(body.get("sql") or "", body.get("parameters"))
        options = body.get("resultSetOptions") or {}
        as_json = body.get("formatRecordsAs") == "JSON"
        with_metadata = bool(body.get("includeResultMetadata"))

        def work(conn):
            columns, rows, affected = run(conn, statement, values, oids)
            if columns is None:
                return {"numberOfRecordsUpdated": affected, "generatedFields": []}
            typed_rows = [
                [typed(v, c["type_oid"], options) for v, c in zip(row, columns)] for row in rows
            ]
            answer = {"numberOfRecordsUpdated": 0}
            if as_json:
                labels = [c["name"] for c in columns]
                answer["formattedRecords"] = json.dumps(
                    [{label: v[1] for label, v in zip(labels, row)} for row in typed_rows]
                )
            else:
                answer["records"] = [[v[0] for v in row] for row in typed_rows]
            if with_metadata:
                names = self.type_name_map(database, conn, columns)
                answer["columnMetadata"] = column_metadata(columns, names)
            # Checked here so that, inside a transaction, it ends the transaction.
            if len(json.dumps(answer)) > RESPONSE_LIMIT:
                raise ApiError("UnsupportedResultException", "The result exceeds the size limit 1 MB")
            return answer

        transaction_id = body.get("transactionId")
        if transaction_id:
            return self.cluster.in_transaction(transaction_id, work)
        return self.cluster.autocommit(database, work)

    def batch_execute(self, body):
        database = self.database_of(body)
        self.cluster.check(body, "BatchExecuteStatement", database)
        sets = body.get("parameterSets") or [[]]
        bound = [bind(body.get("sql") or "", params) for params in sets]

        def work(conn):
            for statement, values, oids in bound:
                run(conn, statement, values, oids)
            return {"updateResults": [{"generatedFields": []} for _ in bound]}

        transaction_id = body.get("transactionId")
        if transaction_id:
            return self.cluster.in_transaction(transaction_id, work)

        # Outside a transaction the batch commits on its own, all or nothing.
        def atomic(conn):
            conn.run("BEGIN")
            try:
                result = work(conn)
            except Exception:
                conn.run("ROLLBACK")
                raise
            conn.run("COMMIT")
            return result

        return self.cluster.autocommit(database, atomic)

    def begin_transaction(self, body):
        database = body.get("database") or "postgres"
        self.cluster.check(body, "BeginTransaction", database)
        return {"transactionId": self.cluster.begin(database)}

    def commit_transaction(self, body):
        transaction = self.cluster.transaction(body.get("transactionId"), "NotFoundException")
        self.cluster.check(body, "CommitTransaction", transaction.database)
        self.cluster.end(transaction, "COMMIT", "committed")
        return {"transactionStatus": "Transaction Committed"}

    def rollback_transaction(self, body):
        transaction = self.cluster.transaction(body.get("transactionId"), "NotFoundException")
        self.cluster.check(body, "RollbackTransaction", transaction.database)
        self.cluster.end(transaction, "ROLLBACK", "rolledBack")
        return {"transactionStatus": "Rollback Complete"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, required=True)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--resource-arn", required=True)
    parser.add_argument("--secret-arn", required=True)
    args = parser.parse_args()
    Handler.cluster = Cluster(
        args.pg_host, args.pg_port, args.pg_user, args.resource_arn, args.secret_arn
    )
    threading.Thread(target=Handler.cluster.expire_idle, daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
