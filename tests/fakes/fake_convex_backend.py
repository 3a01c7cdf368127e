# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""FAKE self-hosted Convex backend for tests. This is not Convex.

The Convex backend image cannot run on the test machines, so the
``convex_backup`` module is tested with the REAL Convex CLI (npm package
``convex``, installed by scripts/convex-cli.sh) against this stand-in: a small
stdlib ``http.server`` on 127.0.0.1 that keeps a deployment's tables in memory
and implements exactly what that CLI calls for ``convex export`` and
``convex import`` in self-hosted mode (CONVEX_SELF_HOSTED_URL and
CONVEX_SELF_HOSTED_ADMIN_KEY), plus the health endpoint:

* ``GET  /version``                              health probe (no key)
* ``POST /api/export/request/zip?includeStorage=false``
                                                 start a snapshot export
* ``GET  /api/export/zip/<start_ts>``            download the snapshot ZIP
* ``POST /api/query``                            only ``_system/cli/queryImport:list``
* ``POST /api/import/start_upload``              -> ``{"uploadToken"}``
* ``POST /api/import/upload_part?uploadToken=&partNumber=``  -> part token (JSON string)
* ``POST /api/import/finish_upload``             -> ``{"importId"}``
* ``POST /api/perform_import``                   confirm an import
* ``GET  /api/<client version>/sync``            WebSocket sync protocol, enough of it for the two
                                                 system queries the CLI subscribes to:
                                                 ``_system/cli/exports:getLatest`` and
                                                 ``_system/cli/queryImport`` (``{importId}``)

Checked against the CLI ``convex`` 1.48.0 (read from its bundled sources
``dist/cli.bundle.cjs(.map)``: ``cli/lib/convexExport.ts``,
``cli/lib/convexImport.ts``, ``browser/sync/*``, ``browser/http_client.ts``)
and the shapes of the backend's answers in get-convex/convex-backend
(``local_backend/src/snapshot_export.rs`` and ``snapshot_import.rs``, the
``exports`` and ``snapshot_imports`` models, the ``_system/cli`` queries).

What it enforces like the real backend: every ``/api`` call needs
``Authorization: Convex <admin key>`` and the key is validated against this
instance's name and secret with the collection's own
plugins/module_utils/convex_keys.py (byte-compatible with the backend's key
broker); a bad key answers ``401 {"code": "BadAdminKey", ...}``. Imports follow
the backend's modes: ``requireEmpty`` (the CLI default) fails on a non-empty
table, ``replace`` replaces the imported tables, ``replaceAll`` also drops
tables missing from the file, ``append`` adds. Export and import run in a
background thread and pass through the backend's intermediate states
(``requested``/``in_progress``, ``uploaded``/``waiting_for_confirmation``/
``in_progress``), so the CLI's waiting on its subscriptions is exercised.

The snapshot ZIP has the backend's layout: ``README.md``,
``_tables/documents.jsonl`` (one ``{"name", "id"}`` line per table),
``<table>/documents.jsonl`` (one document per line, with ``_id`` and
``_creationTime``) and ``<table>/generated_schema.jsonl``.

What is simplified: documents are plain JSON (no Convex-specific types), no
file storage (``includeStorage=true`` and ``_storage`` in an import are
refused), no components, no schema, no legacy admin keys, one ZIP format only
(CSV/JSON imports are refused). Anything not implemented answers
``400 {"code": "FakeUnsupported"}`` so an unexpected call is loud.

Every HTTP request is recorded as ``(method, path)`` in ``backend.requests``.

Run standalone:
    python3 tests/fakes/fake_convex_backend.py --name convex-test --secret <64 hex> --port 3210
It prints the URL and an admin key.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import itertools
import json
import os
import queue
import re
import struct
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.path.join(ROOT, "collections") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "collections"))

from ansible_collections.hansenexus.platform.plugins.module_utils.convex_keys import (  # noqa: E402
    check_admin_key,
    issue_admin_key,
)
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import KeyFormatError  # noqa: E402

FAKE_VERSION = "fake-convex-backend"
BAD_ADMIN_KEY = {"code": "BadAdminKey", "message": "The provided admin key was invalid for this instance"}
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
README = ("# FAKE Convex snapshot export\n\nMade by tests/fakes/fake_convex_backend.py, not by Convex.\n"
          "Documents for each table are lines of JSON in <table_name>/documents.jsonl.\n")
IMPORT_MODES = ("requireEmpty", "append", "replace", "replaceAll")


class FakeError(Exception):
    """An HTTP error answer: status and the backend's ``{"code", "message"}`` body."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "message": message}


def int64(value):
    """Convex's JSON encoding of an int64 (a JS bigint on the client)."""
    return {"$integer": base64.b64encode(struct.pack("<q", value)).decode("ascii")}


def canonical_udf_path(path):
    """``module[.js][:function]`` -> ``module:function`` as the client and backend canonicalize it."""
    if ":" in path:
        module, function = path.rsplit(":", 1)
    else:
        module, function = path, "default"
    if module.endswith(".js"):
        module = module[:-3]
    return "%s:%s" % (module, function)


def snapshot_zip(tables, table_numbers):
    """A snapshot export ZIP of ``tables`` ({name: [document, ...]}) in the backend's layout."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.md", README)
        names = sorted(tables, key=lambda name: table_numbers[name])
        archive.writestr("_tables/documents.jsonl", "".join(
            json.dumps({"name": name, "id": table_numbers[name]}) + "\n" for name in names))
        for name in names:
            archive.writestr("%s/documents.jsonl" % name, "".join(json.dumps(doc) + "\n" for doc in tables[name]))
            archive.writestr("%s/generated_schema.jsonl" % name, json.dumps("uniform") + "\n")
    return buf.getvalue()


def parse_snapshot_zip(data):
    """Tables of a snapshot ZIP as {name: [document, ...]}; raises ValueError like a failed import."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ValueError("the uploaded file is not a ZIP file: %s" % exc)
    tables = {}
    with archive:
        for info in archive.infolist():
            if info.is_dir() or info.filename == "README.md":
                continue
            parts = info.filename.split("/")
            if len(parts) != 2 or parts[1] not in ("documents.jsonl", "generated_schema.jsonl"):
                raise ValueError("FAKE backend does not import %r (no components, no file storage)" % info.filename)
            table, kind = parts
            if table == "_storage" or (table.startswith("_") and table != "_tables"):
                raise ValueError("FAKE backend does not import system table %r" % table)
            if kind == "generated_schema.jsonl":
                continue
            lines = archive.read(info).decode("utf-8").splitlines()
            try:
                rows = [json.loads(line) for line in lines if line.strip()]
            except ValueError as exc:
                raise ValueError("%s is not JSON lines: %s" % (info.filename, exc))
            if table == "_tables":
                for row in rows:
                    tables.setdefault(row["name"], [])
            else:
                tables.setdefault(table, []).extend(rows)
    return tables


class FakeConvexBackend:
    """A FAKE self-hosted Convex deployment: tables in memory, served on 127.0.0.1:<free port>."""

    def __init__(self, instance_name, instance_secret, tables=None, port=0):
        self.instance_name = instance_name
        self.instance_secret = instance_secret
        self.requests = []
        self._lock = threading.Condition()
        self._ts = 0
        self._ids = itertools.count(1)
        self._table_numbers = {}
        self.tables = {}
        self._exports = []           # export documents, oldest first
        self._export_zips = {}       # start_ts -> ZIP bytes
        self._uploads = {}           # upload token -> {part number: bytes}
        self._imports = {}           # import id -> import document
        self.state_version = 0       # bumped on every change the sync protocol may need to push
        self.stall_exports = False   # True: an export request is held open until stop() (a hung backend)
        self._released = threading.Event()
        for name, docs in (tables or {}).items():
            self.set_table(name, docs)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._server.backend = self
        self._thread = None

    # -- lifecycle --------------------------------------------------------

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self._server.server_address[1]

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-convex", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def admin_key(self):
        """A valid admin key for this instance (issued like the backend's generate_admin_key.sh)."""
        return issue_admin_key(self.instance_name, self.instance_secret)

    # -- data -------------------------------------------------------------

    def next_ts(self):
        """A strictly increasing timestamp in nanoseconds, like the backend's commit timestamps."""
        with self._lock:
            self._ts = max(self._ts + 1, time.time_ns())
            return self._ts

    def _changed(self):
        self.state_version += 1
        self._lock.notify_all()

    def set_table(self, name, fields_list):
        """Replace table ``name`` by new documents made from ``fields_list`` (dicts without system fields)."""
        with self._lock:
            self._table_numbers.setdefault(name, 10000 + len(self._table_numbers) + 1)
            self.tables[name] = [self._new_document(fields) for fields in fields_list]
            self._changed()

    def drop_table(self, name):
        with self._lock:
            self.tables.pop(name, None)
            self._changed()

    def user_data(self):
        """{table: sorted list of documents without _id/_creationTime}: what a round trip must keep."""
        with self._lock:
            return {name: sorted((dict((k, v) for k, v in doc.items() if not k.startswith("_")) for doc in docs),
                                 key=lambda d: json.dumps(d, sort_keys=True))
                    for name, docs in self.tables.items()}

    def _new_document(self, fields):
        doc = {"_id": "fake%08d" % next(self._ids), "_creationTime": time.time() * 1000.0}
        doc.update(fields)
        return doc

    # -- auth ---------------------------------------------------------------

    def check_authorization(self, header):
        if not header:
            raise FakeError(401, "MissingAccessToken", "An admin key is required for this request")
        scheme, key = (header.split(" ", 1) + [""])[:2]
        if scheme != "Convex" or not key:
            raise FakeError(401, "BadAdminKey", BAD_ADMIN_KEY["message"])
        if not self.key_is_valid(key):
            raise FakeError(401, "BadAdminKey", BAD_ADMIN_KEY["message"])

    def key_is_valid(self, key):
        try:
            return check_admin_key(key, self.instance_name, self.instance_secret).valid
        except KeyFormatError:
            return False

    # -- exports ------------------------------------------------------------

    def request_export(self, include_storage):
        if include_storage:
            raise FakeError(400, "FakeUnsupported", "FAKE backend has no file storage to export")
        with self._lock:
            if self._exports and self._exports[-1]["state"] in ("requested", "in_progress"):
                raise FakeError(400, "ExportInProgress", "There is already an export requested or in progress.")
            doc = {"_id": "export%04d" % next(self._ids), "_creationTime": time.time() * 1000.0,
                   "state": "requested", "format": {"format": "zip", "include_storage": False},
                   "requestor": "snapshotExport", "expiration_ts": int64(0)}
            self._exports.append(doc)
            self._changed()
        threading.Thread(target=self._run_export, args=(doc,), daemon=True).start()

    def _run_export(self, doc):
        time.sleep(0.05)
        start_ts = self.next_ts()
        with self._lock:
            doc.update(state="in_progress", start_ts=int64(start_ts), progress_message="Backing up tables")
            self._changed()
            data = snapshot_zip(self.tables, self._table_numbers)
        time.sleep(0.05)
        with self._lock:
            self._export_zips[start_ts] = data
            doc.pop("progress_message")
            doc.update(state="completed", complete_ts=int64(self.next_ts()),
                       expiration_ts=int64(time.time_ns() + 14 * 86400 * 10 ** 9),
                       zip_object_key="fake-export-%d.zip" % start_ts)
            self._changed()

    def latest_export(self):
        with self._lock:
            return dict(self._exports[-1]) if self._exports else None

    def export_zip(self, start_ts):
        with self._lock:
            if start_ts not in self._export_zips:
                raise FakeError(404, "ExportNotFound", "No completed export at %s" % start_ts)
            return self._export_zips[start_ts]

    # -- imports ------------------------------------------------------------

    def start_upload(self):
        token = "upload-%d" % next(self._ids)
        with self._lock:
            self._uploads[token] = {}
        return token

    def upload_part(self, token, part_number, data):
        with self._lock:
            if token not in self._uploads:
                raise FakeError(400, "InvalidUploadToken", "unknown upload token")
            self._uploads[token][part_number] = data
        return "part-%d-%s" % (part_number, hashlib.sha256(data).hexdigest()[:16])

    def finish_upload(self, args):
        spec = args.get("import") or {}
        mode = spec.get("mode", "requireEmpty")
        if spec.get("format") != "zip" or spec.get("tableName") or spec.get("componentPath"):
            raise FakeError(400, "FakeUnsupported", "FAKE backend imports whole ZIP snapshots only")
        if mode not in IMPORT_MODES:
            raise FakeError(400, "InvalidImportMode", "unknown import mode %r" % mode)
        with self._lock:
            parts = self._uploads.pop(args.get("uploadToken"), None)
            if parts is None:
                raise FakeError(400, "InvalidUploadToken", "unknown upload token")
            numbers = sorted(parts)
            if numbers != list(range(1, len(numbers) + 1)) or len(args.get("partTokens") or []) != len(numbers):
                raise FakeError(400, "InvalidUpload", "upload parts are missing or out of order")
            import_id = "import%04d" % next(self._ids)
            doc = {"_id": import_id, "_creationTime": time.time() * 1000.0, "mode": mode,
                   "format": {"format": "zip"}, "state": {"state": "uploaded"}}
            self._imports[import_id] = doc
            self._changed()
        data = b"".join(parts[n] for n in numbers)
        threading.Thread(target=self._parse_import, args=(doc, data), daemon=True).start()
        return import_id

    def _parse_import(self, doc, data):
        time.sleep(0.05)
        try:
            tables = parse_snapshot_zip(data)
        except ValueError as exc:
            with self._lock:
                doc["state"] = {"state": "failed", "error_message": str(exc)}
                self._changed()
            return
        with self._lock:
            mode = doc["mode"]
            if mode == "requireEmpty":
                for name in sorted(tables):
                    if self.tables.get(name):
                        doc["state"] = {"state": "failed", "error_message":
                                        "Table %s already exists. Use --replace or --append." % name}
                        self._changed()
                        return
            touched = set(tables) | (set(self.tables) if mode == "replaceAll" else set())
            lines = ["Import change summary:", "table | create | delete |"]
            deleted = 0
            for name in sorted(touched):
                existing = len(self.tables.get(name, []))
                removing = 0 if mode == "append" else existing
                deleted += removing
                lines.append("%s | %d | %d of %d |" % (name, len(tables.get(name, [])), removing, existing))
            lines.append("Once the import has started, it will run in the background.")
            doc["parsed"] = tables
            doc["state"] = {"state": "waiting_for_confirmation", "message_to_confirm": "\n".join(lines),
                            "require_manual_confirmation": deleted > 0}
            self._changed()

    def perform_import(self, import_id):
        with self._lock:
            doc = self._imports.get(import_id)
            if doc is None:
                raise FakeError(404, "ImportNotFound", "invalid import id %s" % import_id)
            if doc["state"]["state"] != "waiting_for_confirmation":
                raise FakeError(400, "ImportNotWaiting", "import %s is %s" % (import_id, doc["state"]["state"]))
            doc["state"] = {"state": "in_progress", "progress_message": "Importing", "checkpoint_messages": []}
            self._changed()
        threading.Thread(target=self._apply_import, args=(doc,), daemon=True).start()

    def _apply_import(self, doc):
        time.sleep(0.05)
        with self._lock:
            tables = doc.pop("parsed")
            mode = doc["mode"]
            if mode == "replaceAll":
                self.tables = {}
            written = 0
            for name, docs in tables.items():
                self._table_numbers.setdefault(name, 10000 + len(self._table_numbers) + 1)
                if mode == "append":
                    self.tables.setdefault(name, [])
                else:
                    self.tables[name] = []
                for row in docs:
                    row = dict(row)
                    row.setdefault("_id", "fake%08d" % next(self._ids))
                    row.setdefault("_creationTime", time.time() * 1000.0)
                    self.tables[name].append(row)
                    written += 1
            doc["state"] = {"state": "completed", "ts": int64(self.next_ts()), "num_rows_written": int64(written)}
            self._changed()

    def list_imports(self):
        with self._lock:
            newest = sorted(self._imports.values(), key=lambda doc: doc["_id"], reverse=True)[:20]
            return [self._public_import(doc) for doc in newest]

    def get_import(self, import_id):
        with self._lock:
            doc = self._imports.get(import_id)
            return self._public_import(doc) if doc else None

    @staticmethod
    def _public_import(doc):
        return dict((k, v) for k, v in doc.items() if k != "parsed")

    # -- system queries (sync protocol and /api/query) ------------------------

    def run_system_query(self, udf_path, args):
        path = canonical_udf_path(udf_path)
        if path == "_system/cli/exports:getLatest":
            return self.latest_export()
        if path == "_system/cli/queryImport:list":
            return self.list_imports()
        if path == "_system/cli/queryImport:default":
            return self.get_import((args or {}).get("importId"))
        raise FakeError(400, "FakeUnsupported", "FAKE backend does not implement query %s" % path)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeConvex/0"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    @property
    def backend(self):
        return self.server.backend

    def _send_json(self, status, body, headers=()):
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")   # compact, as serde_json writes it
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_bytes(self, status, data, content_type, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json_body(self):
        raw = self._body()
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            raise FakeError(400, "BadJsonBody", "request body is not JSON")

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        url = urlsplit(self.path)
        query = dict((k, v[-1]) for k, v in parse_qs(url.query).items())
        self.backend.requests.append((method, url.path))
        try:
            if method == "GET" and url.path == "/version":
                return self._send_bytes(200, FAKE_VERSION.encode("ascii"), "text/plain")
            if method == "GET" and re.match(r"^/api/[^/]+/sync$", url.path):
                return _SyncSession(self).run()
            if not url.path.startswith("/api/"):
                raise FakeError(404, "NotFound", "FAKE backend has no route %s %s" % (method, url.path))
            self.backend.check_authorization(self.headers.get("Authorization"))
            self._api(method, url.path, query)
        except FakeError as exc:
            self._send_json(exc.status, exc.body)

    def _api(self, method, path, query):
        backend = self.backend
        if method == "POST" and path == "/api/export/request/zip":
            if backend.stall_exports:
                backend._released.wait(600)
            backend.request_export(query.get("includeStorage", "false") == "true")
            return self._send_bytes(200, b"", "text/plain")
        match = re.match(r"^/api/export/zip/(\d+)$", path)
        if method == "GET" and match:
            start_ts = int(match.group(1))
            data = backend.export_zip(start_ts)
            return self._send_bytes(200, data, "application/zip", [
                ("Content-Disposition", "attachment; filename=snapshot_%s_%d.zip" % (backend.instance_name, start_ts))])
        if method == "POST" and path == "/api/query":
            body = self._json_body()
            args = (body.get("args") or [{}])[0]
            value = backend.run_system_query(body.get("path", ""), args)
            return self._send_json(200, {"status": "success", "value": value, "logLines": []})
        if method == "POST" and path == "/api/import/start_upload":
            return self._send_json(200, {"uploadToken": backend.start_upload()})
        if method == "POST" and path == "/api/import/upload_part":
            try:
                part_number = int(query["partNumber"])
                token = query["uploadToken"]
            except (KeyError, ValueError):
                raise FakeError(400, "BadUploadPart", "uploadToken and partNumber are required")
            return self._send_json(200, backend.upload_part(token, part_number, self._body()))
        if method == "POST" and path == "/api/import/finish_upload":
            return self._send_json(200, {"importId": backend.finish_upload(self._json_body())})
        if method == "POST" and path == "/api/perform_import":
            backend.perform_import(self._json_body().get("importId"))
            return self._send_json(200, {})
        raise FakeError(400, "FakeUnsupported", "FAKE backend does not implement %s %s" % (method, path))


class _SyncSession:
    """One WebSocket connection speaking the Convex sync protocol (JSON messages).

    Handles Connect, Authenticate (admin keys only), ModifyQuerySet and Event;
    answers with Transition messages whose start version is the last version
    sent, re-sent whenever a subscribed query's value changes.
    """

    def __init__(self, handler):
        self.handler = handler
        self.backend = handler.backend
        self.sent = {"querySet": 0, "ts": 0, "identity": 0}
        self.query_set = 0
        self.identity = 0
        self.admin = False
        self.queries = {}        # query id -> (udf path, args)
        self.values = {}         # query id -> JSON text of the last value sent
        self.seen_state = -1

    def run(self):
        key = self.handler.headers.get("Sec-WebSocket-Key")
        if (self.handler.headers.get("Upgrade") or "").lower() != "websocket" or not key:
            raise FakeError(400, "NotWebSocket", "the sync endpoint needs a WebSocket upgrade")
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode("ascii")).digest()).decode("ascii")
        self.handler.send_response(101, "Switching Protocols")
        self.handler.send_header("Upgrade", "websocket")
        self.handler.send_header("Connection", "Upgrade")
        self.handler.send_header("Sec-WebSocket-Accept", accept)
        self.handler.end_headers()
        self.handler.wfile.flush()
        self.handler.close_connection = True
        frames = queue.Queue()
        threading.Thread(target=_read_frames, args=(self.handler.rfile, frames), daemon=True).start()
        while True:
            try:
                frame = frames.get(timeout=0.05)
            except queue.Empty:
                frame = None
            if frame is not None:
                opcode, payload = frame
                if opcode is None:           # connection gone
                    return
                if opcode == 0x8:            # close: echo and stop
                    self._send_frame(0x8, payload[:2])
                    return
                if opcode == 0x9:            # ping
                    self._send_frame(0xA, payload)
                    continue
                if opcode != 0x1:
                    continue
                if not self._on_message(json.loads(payload.decode("utf-8"))):
                    return
            if frame is not None or self.backend.state_version != self.seen_state:
                self._maybe_transition()

    def _on_message(self, message):
        kind = message.get("type")
        if kind == "Authenticate":
            self.identity = message.get("baseVersion", 0) + 1
            if message.get("tokenType") == "Admin" and self.backend.key_is_valid(message.get("value", "")):
                self.admin = True
            else:
                self.admin = False
                error = "%s: %s" % (BAD_ADMIN_KEY["code"], BAD_ADMIN_KEY["message"])
                self._send_text({"type": "AuthError", "error": error, "baseVersion": message.get("baseVersion", 0),
                                 "authUpdateAttempted": True})
                return False
        elif kind == "ModifyQuerySet":
            if message.get("baseVersion") != self.query_set:
                self._send_text({"type": "FatalError", "error": "query set base version mismatch"})
                return False
            for change in message.get("modifications", []):
                if change["type"] == "Add":
                    self.queries[change["queryId"]] = (change["udfPath"], (change.get("args") or [{}])[0])
                elif change["type"] == "Remove":
                    self.queries.pop(change["queryId"], None)
            self.query_set = message["newVersion"]
        elif kind in ("Mutation", "Action"):
            self._send_text({"type": "FatalError", "error": "FAKE backend runs no mutations or actions"})
            return False
        return True                          # Connect, Event: nothing to answer

    def _maybe_transition(self):
        self.seen_state = self.backend.state_version
        modifications = []
        for query_id, (udf_path, args) in sorted(self.queries.items()):
            if not self.admin:
                update = {"type": "QueryFailed", "queryId": query_id, "logLines": [], "journal": None,
                          "errorMessage": "Unauthenticated: system queries need an admin key", "errorData": None}
            else:
                try:
                    update = {"type": "QueryUpdated", "queryId": query_id, "logLines": [], "journal": None,
                              "value": self.backend.run_system_query(udf_path, args)}
                except FakeError as exc:
                    update = {"type": "QueryFailed", "queryId": query_id, "logLines": [], "journal": None,
                              "errorMessage": exc.body["message"], "errorData": None}
            text = json.dumps(update, sort_keys=True)
            if self.values.get(query_id) != text:
                self.values[query_id] = text
                modifications.append(update)
        for query_id in sorted(set(self.values) - set(self.queries)):
            del self.values[query_id]
            modifications.append({"type": "QueryRemoved", "queryId": query_id})
        if not modifications and (self.query_set, self.identity) == (self.sent["querySet"], self.sent["identity"]):
            return
        end = {"querySet": self.query_set, "ts": self.backend.next_ts(), "identity": self.identity}
        self._send_text({"type": "Transition", "startVersion": self._encode_version(self.sent),
                         "endVersion": self._encode_version(end), "modifications": modifications})
        self.sent = end

    @staticmethod
    def _encode_version(version):
        return {"querySet": version["querySet"], "identity": version["identity"],
                "ts": int64(version["ts"])["$integer"]}

    def _send_text(self, message):
        self._send_frame(0x1, json.dumps(message).encode("utf-8"))

    def _send_frame(self, opcode, payload):
        header = bytearray([0x80 | opcode])
        if len(payload) < 126:
            header.append(len(payload))
        elif len(payload) < 1 << 16:
            header.append(126)
            header += struct.pack(">H", len(payload))
        else:
            header.append(127)
            header += struct.pack(">Q", len(payload))
        self.handler.wfile.write(bytes(header) + payload)
        self.handler.wfile.flush()


def _read_frames(rfile, frames):
    """Put the client's WebSocket messages on ``frames`` as (opcode, payload); (None, b"") at the end.

    Client frames are masked and may be fragmented; control frames come whole.
    """
    fragments = []
    try:
        while True:
            first, second = rfile.read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", rfile.read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", rfile.read(8))[0]
            mask = rfile.read(4) if second & 0x80 else b"\0\0\0\0"
            data = rfile.read(length)
            if len(data) != length:
                raise EOFError("truncated frame")
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = first & 0x0F
            if opcode >= 0x8:
                frames.put((opcode, payload))
                if opcode == 0x8:
                    return
                continue
            fragments.append((opcode, payload))
            if first & 0x80:
                frames.put((fragments[0][0], b"".join(part for opcode, part in fragments)))
                fragments = []
    except (ValueError, EOFError, OSError):
        frames.put((None, b""))


def main():
    parser = argparse.ArgumentParser(description="FAKE self-hosted Convex backend (tests only)")
    parser.add_argument("--name", default="convex-self-hosted")
    parser.add_argument("--secret", required=True, help="instance secret, 64 hex characters")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    backend = FakeConvexBackend(args.name, args.secret, port=args.port,
                                tables={"messages": [{"body": "hello"}, {"body": "world"}]})
    backend.start()
    print("FAKE Convex backend at %s\nadmin key: %s" % (backend.url, backend.admin_key()), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        backend.stop()


if __name__ == "__main__":
    main()
