"""The partner sandbox's logistics tracking API: a simulated carrier's HTTP service (stdlib only).

It serves the events under <data>/_sandbox/tracking (see parkdw.sandbox.tracking) the way a carrier's
API would, including its bad days, so the ingestion client can be tested against real HTTP:

  POST /oauth/token          client credentials (form fields or HTTP Basic) -> a Bearer token
  GET  /v1/tracking-events   updated_since (inclusive), limit (1..1000, default 500), cursor (opaque);
                             {"data": [...], "next_cursor": str | null, "has_more": bool},
                             ordered by (updated_at, event_id), keyset-paged
  GET  /v1/health            {"status": "ok", "events": N}, no token needed

Errors are JSON: {"error": code, "message": text} (the token endpoint uses RFC 6749's
{"error", "error_description"}). 400 bad parameter or cursor, 401 missing/bad/expired token,
404/405 unknown path or method, 429 over the per-token rate limit (with Retry-After).
With fault_rate > 0 each data request fails with that probability, the kind drawn from a seeded
generator: 500, 503, 429, a response held for timeout_seconds, a body cut short of its
Content-Length, or a body of invalid (half) JSON.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import heapq
import json
import logging
import math
import random
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from parkdw.sandbox.tracking import TRACKING_DIR

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
MAX_BODY_BYTES = 64 * 1024
FAULT_KINDS = ("http_500", "http_503", "http_429", "timeout", "truncated_body", "truncated_json")
FAULT_WEIGHTS = (0.25, 0.2, 0.2, 0.1, 0.15, 0.1)
ENV_CLIENT_ID = "PARKDW_SANDBOX_CLIENT_ID"
ENV_CLIENT_SECRET = "PARKDW_SANDBOX_CLIENT_SECRET"


@dataclass
class _Response:
    status: int
    body: dict
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    payload: bytes | None = None  # the body already serialised (a page of events), else json of body


# --- the events, spooled to disk ------------------------------------------------------------------
# A month at scale 1 holds about 8 million events: kept as dicts they would take some 15 GB. The
# server instead merges the day files (each in (updated_at, event_id) order) into one spool file
# and keeps every INDEX_EVERY-th key with its byte offset: memory stays flat, a page is one seek.
INDEX_EVERY = 256


def _instant(value: datetime) -> str:
    """A sort key for an aware instant: UTC, fixed width, so text order is time order."""
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class _Spool:
    path: Path | None
    count: int = 0
    index: tuple[tuple[str, str, int], ...] = ()  # (instant, event_id, offset) of every INDEX_EVERY-th event


def _entries(path: Path) -> Iterator[tuple[str, str, str]]:
    """(instant, event_id, JSON line) for each event of a tracking file; ValueError naming the
    file and line for anything that is not an event."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {n}: not JSON ({exc.msg})") from None
            try:
                if not isinstance(event["event_id"], str):
                    raise TypeError
                yield _instant(datetime.fromisoformat(event["updated_at"])), event["event_id"], line.strip()
            except (KeyError, TypeError, ValueError, AttributeError):
                raise ValueError(f"{path}: line {n}: event {event.get('event_id') if isinstance(event, dict) else None!r}: "
                                 f"bad updated_at or event_id") from None


def _spool_line(instant: str, event_id: str, line: str) -> bytes:
    return f"{instant}\t{json.dumps(event_id)}\t{line}\n".encode()


def _spooled(raw: bytes) -> tuple[str, str, str]:
    """(instant, event_id, the event's JSON) of a spool line."""
    instant, event_id, line = raw.decode().rstrip("\n").split("\t", 2)
    return instant, json.loads(event_id), line


def _part(path: Path, folder: Path) -> Path:
    """A tracking file as spool lines in (instant, event_id) order, each event parsed once: written
    as read when the file is in that order (as the sandbox writes it), else sorted in memory (one
    file) and written again."""
    part = folder / f"part-{path.name}"
    with open(part, "wb") as out:
        previous = None
        for entry in _entries(path):
            if previous is not None and entry[:2] < previous:
                break
            previous = entry[:2]
            out.write(_spool_line(*entry))
        else:
            return part
    with open(part, "wb") as out:
        out.writelines(_spool_line(*entry) for entry in sorted(_entries(path)))
    return part


def _part_lines(part: Path) -> Iterator[tuple[str, str, bytes]]:
    with open(part, "rb") as f:
        for raw in f:
            instant, event_id, _ = _spooled(raw)
            yield instant, event_id, raw


def build_spool(files: Sequence[Path], folder: Path) -> _Spool:
    """Merge tracking files into one spool file under `folder`: a line per event,
    'instant<TAB>event_id as JSON<TAB>the event's JSON', in (instant, event_id) order."""
    path = folder / f"events-{time.monotonic_ns()}.tsv"
    parts = [_part(p, folder) for p in files]
    index: list[tuple[str, str, int]] = []
    count = offset = 0
    with open(path, "wb") as out:
        for instant, event_id, raw in heapq.merge(*map(_part_lines, parts)):
            if count % INDEX_EVERY == 0:
                index.append((instant, event_id, offset))
            out.write(raw)
            offset += len(raw)
            count += 1
    for part in parts:
        part.unlink()
    return _Spool(path, count, tuple(index))


def _read_from(spool: _Spool, bound: tuple[str, str], inclusive: bool, limit: int) -> list[tuple[str, str, str]]:
    """Up to `limit` events at or after (inclusive) / strictly after `bound`, in order."""
    if spool.path is None or not spool.count:
        return []
    # The last indexed event before the bound: everything from there on is scanned.
    at = bisect.bisect_left(spool.index, bound, key=lambda e: e[:2]) - 1
    page: list[tuple[str, str, str]] = []
    with open(spool.path, "rb") as f:
        f.seek(spool.index[max(at, 0)][2])
        for raw in f:
            instant, event_id, line = _spooled(raw)
            key = (instant, event_id)
            if key < bound or (key == bound and not inclusive):
                continue
            page.append((instant, event_id, line))
            if len(page) == limit:
                break
    return page


class _BadRequest(Exception):
    pass


def _parse_instant(name: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        hint = " (encode '+' in the offset as %2B)" if " " in text else ""
        raise _BadRequest(f"{name}: not an ISO 8601 date-time: {text!r}{hint}") from None
    if value.tzinfo is None:
        raise _BadRequest(f"{name}: needs a UTC offset, e.g. 2024-11-10T00:00:00Z; got {text!r}")
    return value.astimezone(timezone.utc)


def _encode_cursor(updated_at: str, event_id: str, since: str | None) -> str:
    raw = json.dumps({"u": updated_at, "i": event_id, "s": since}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_cursor(text: str) -> tuple[datetime, str, datetime | None]:
    """The last (updated_at, event_id) served and the query's updated_since, from a cursor."""
    try:
        state = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        updated_at, event_id, since = state["u"], state["i"], state["s"]
        if not (isinstance(updated_at, str) and isinstance(event_id, str) and (since is None or isinstance(since, str))):
            raise TypeError
        return (_parse_instant("cursor", updated_at), event_id,
                _parse_instant("cursor", since) if since is not None else None)
    except (binascii.Error, ValueError, UnicodeDecodeError, TypeError, KeyError, _BadRequest):
        raise _BadRequest("cursor: not a cursor this API issued") from None


class _Bucket:
    """A token bucket: `rate` requests a second on average, bursts up to `capacity`."""

    def __init__(self, rate: float, capacity: float, now: float):
        self.rate, self.capacity, self.tokens, self.updated = rate, capacity, capacity, now

    def take(self, now: float) -> float:
        """0 if the request may go ahead, else the seconds until one would be allowed."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class TrackingApiServer:
    """The simulated carrier API over a data folder; start()/stop() or use as a context manager.

    The folder is re-read when its tracking files change, so days written while it runs appear.
    """

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int = 0, *, client_id: str,
                 client_secret: str, rate_limit_per_second: float = 10.0, burst: int = 20,
                 fault_rate: float = 0.0, fault_seed: int = 0, timeout_seconds: float = 5.0,
                 token_ttl_seconds: float = 3600.0):
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret must be non-empty")
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be in [0, 1], got {fault_rate}")
        if rate_limit_per_second <= 0 or burst < 1:
            raise ValueError(f"need rate_limit_per_second > 0 and burst >= 1, got {rate_limit_per_second}, {burst}")
        self.data_dir = Path(data_dir)
        self.host, self.port = host, port
        self._client_id, self._client_secret = client_id.encode(), client_secret.encode()
        self.rate_limit_per_second, self.burst = rate_limit_per_second, burst
        self.fault_rate, self.timeout_seconds, self.token_ttl_seconds = fault_rate, timeout_seconds, token_ttl_seconds
        self.fault_counts: Counter[str] = Counter()  # faults served, by kind
        self.request_counts: Counter[str] = Counter()  # requests, by path
        self.status_counts: Counter[int] = Counter()  # responses, by status
        self._fault_rng = random.Random(fault_seed)
        self._tokens: dict[str, tuple[float, _Bucket]] = {}  # token -> (expires at, bucket)
        self._lock = threading.Lock()
        self._data_lock = threading.Lock()
        self._signature: tuple = ()
        self._spool = _Spool(None)
        self._scratch: Path | None = None  # holds the spool file while the server lives
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> "TrackingApiServer":
        if self._httpd is not None:
            raise RuntimeError("the tracking API server is already running")
        self._snapshot()
        self._stopping.clear()
        self._httpd = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._httpd.app = self  # type: ignore[attr-defined]
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"tracking-api:{self.port}", daemon=True)
        self._thread.start()
        log.info("tracking API listening on %s with %d events from %s", self.url, self._spool.count, self.data_dir)
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes requests held by a timeout fault
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
        self._httpd = self._thread = None
        with self._data_lock:
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch, self._spool, self._signature = None, _Spool(None), ()
        log.info("tracking API stopped after %d requests", sum(self.request_counts.values()))

    def __enter__(self) -> "TrackingApiServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- data ---

    def _snapshot(self) -> _Spool:
        """The spooled events, rebuilt when the files changed since the last build."""
        files = sorted((self.data_dir / TRACKING_DIR).glob("*.jsonl"))
        with self._data_lock:
            try:
                signature = tuple((p.name, s.st_mtime_ns, s.st_size) for p in files for s in [p.stat()])
                if signature != self._signature:
                    started = time.monotonic()
                    if self._scratch is None:
                        self._scratch = Path(tempfile.mkdtemp(prefix="parkdw-tracking-api-"))
                    spool = build_spool(files, self._scratch)
                    if self._spool.path is not None:
                        self._spool.path.unlink(missing_ok=True)  # (a page being read keeps its open file)
                    self._spool, self._signature = spool, signature
                    log.info("spooled %d tracking events from %d files in %.0f ms", spool.count, len(files),
                             (time.monotonic() - started) * 1000)
            except (OSError, ValueError) as exc:  # a file being written or replaced: serve the last good read
                log.warning("tracking data not reloaded: %s", exc)
            return self._spool

    # --- endpoints ---

    def _handle(self, method: str, path: str, query: str, headers, body: bytes) -> _Response:
        routes = {"/oauth/token": "POST", "/v1/tracking-events": "GET", "/v1/health": "GET"}
        with self._lock:
            self.request_counts[path if path in routes else "other"] += 1
        if path not in routes:
            return _Response(404, {"error": "not_found", "message": f"no endpoint {path}"})
        if method != routes[path]:
            return _Response(405, {"error": "method_not_allowed", "message": f"{path} accepts {routes[path]}"},
                             {"Allow": routes[path]})
        if path == "/oauth/token":
            return self._token(headers, body)
        if path == "/v1/health":
            return _Response(200, {"status": "ok", "events": self._snapshot().count})
        return self._tracking_events(headers, query)

    def _token(self, headers, body: bytes) -> _Response:
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        grant_type = form.get("grant_type")
        if grant_type != "client_credentials":
            code = "invalid_request" if grant_type is None else "unsupported_grant_type"
            return _Response(400, {"error": code, "error_description": "grant_type must be client_credentials"})
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        authorization = headers.get("Authorization", "")
        if authorization[:6].lower() == "basic ":
            try:
                pair = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                pair = ""
            client_id, _, client_secret = (unquote(part) for part in pair.partition(":"))
        # Compare both in full whatever the first gives, so timing tells nothing.
        id_ok = secrets.compare_digest(client_id.encode(), self._client_id)
        secret_ok = secrets.compare_digest(client_secret.encode(), self._client_secret)
        if not (id_ok and secret_ok):
            return _Response(401, {"error": "invalid_client", "error_description": "unknown client or wrong secret"},
                             {"WWW-Authenticate": 'Basic realm="parkdw-sandbox"'})
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._tokens = {t: v for t, v in self._tokens.items() if v[0] > now}
            self._tokens[token] = (now + self.token_ttl_seconds,
                                   _Bucket(self.rate_limit_per_second, self.burst, now))
        return _Response(200, {"access_token": token, "token_type": "Bearer",
                               "expires_in": math.ceil(self.token_ttl_seconds)},
                         {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _authorize(self, headers) -> _Response | None:
        """None when the request carries a live token within its rate limit, else the error to send."""
        authorization = headers.get("Authorization", "")
        if authorization[:7].lower() != "bearer ":
            return _Response(401, {"error": "unauthorized", "message": "send Authorization: Bearer <token>"},
                             {"WWW-Authenticate": 'Bearer realm="parkdw-sandbox"'})
        now = time.monotonic()
        with self._lock:
            expires_at, bucket = self._tokens.get(authorization[7:].strip(), (None, None))
            if expires_at is None or expires_at <= now:
                message = "token expired" if expires_at is not None else "unknown token"
                return _Response(401, {"error": "invalid_token", "message": message},
                                 {"WWW-Authenticate": f'Bearer realm="parkdw-sandbox", error="invalid_token", '
                                                      f'error_description="{message}"'})
            wait = bucket.take(now)
        if wait:
            return _Response(429, {"error": "rate_limited",
                                   "message": f"over {self.rate_limit_per_second:g} requests/s for this token"},
                             {"Retry-After": str(max(1, math.ceil(wait)))})
        return None

    def _draw_fault(self) -> str | None:
        if not self.fault_rate:
            return None
        with self._lock:
            if self._fault_rng.random() >= self.fault_rate:
                return None
            kind = self._fault_rng.choices(FAULT_KINDS, FAULT_WEIGHTS)[0]
            self.fault_counts[kind] += 1
        return kind

    def _tracking_events(self, headers, query: str) -> _Response:
        refused = self._authorize(headers)
        if refused:
            return refused
        fault = self._draw_fault()
        if fault == "http_500":
            return _Response(500, {"error": "internal_error", "message": "simulated server error"}, fault=fault)
        if fault == "http_503":
            return _Response(503, {"error": "unavailable", "message": "simulated maintenance"},
                             {"Retry-After": "1"}, fault=fault)
        if fault == "http_429":
            return _Response(429, {"error": "rate_limited", "message": "simulated throttling"},
                             {"Retry-After": "1"}, fault=fault)
        try:
            response = self._page(query)
        except _BadRequest as exc:
            response = _Response(400, {"error": "bad_request", "message": str(exc)})
        response.fault = fault
        return response

    def _page(self, query: str) -> _Response:
        params = parse_qs(query, keep_blank_values=True)
        unknown = sorted(set(params) - {"updated_since", "limit", "cursor"})
        if unknown:
            raise _BadRequest(f"unknown parameter {unknown[0]!r} (use updated_since, limit, cursor)")
        repeated = sorted(k for k, v in params.items() if len(v) > 1)
        if repeated:
            raise _BadRequest(f"{repeated[0]}: given more than once")
        args = {k: v[0] for k, v in params.items()}
        try:
            limit = int(args.get("limit", DEFAULT_LIMIT))
        except ValueError:
            raise _BadRequest(f"limit: not an integer: {args['limit']!r}") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise _BadRequest(f"limit: must be 1..{MAX_LIMIT}, got {limit}")
        since = _parse_instant("updated_since", args["updated_since"]) if "updated_since" in args else None
        after = None
        if "cursor" in args:
            after_time, after_id, cursor_since = _decode_cursor(args["cursor"])
            if "updated_since" in args and cursor_since != since:
                raise _BadRequest("cursor: issued for a different updated_since")
            since, after = cursor_since, (after_time, after_id)
        # Keyset paging: resume strictly after the last key served, so appended events never shift pages.
        if after is not None:
            bound, inclusive = (_instant(after[0]), after[1]), False
            if since is not None and _instant(since) > bound[0]:
                bound, inclusive = (_instant(since), ""), True
        else:
            bound, inclusive = ((_instant(since) if since else ""), ""), True
        try:
            page = _read_from(self._snapshot(), bound, inclusive, limit + 1)
        except FileNotFoundError:  # the spool was rebuilt between taking it and opening it
            page = _read_from(self._snapshot(), bound, inclusive, limit + 1)
        has_more = len(page) > limit
        page = page[:limit]
        next_cursor = None
        if has_more:
            next_cursor = _encode_cursor(page[-1][0], page[-1][1], since.isoformat() if since else None)
        # The events go out as the files hold them (each line is one JSON object).
        payload = ('{"data":[' + ",".join(line for _, _, line in page) + "],"
                   + json.dumps({"next_cursor": next_cursor, "has_more": has_more}, separators=(",", ":"))[1:])
        return _Response(200, {}, payload=payload.encode())

    # --- delivery (called by the handler) ---

    def _record(self, status: int) -> None:
        with self._lock:
            self.status_counts[status] += 1

    def _hold(self) -> bool:
        """Hold a response for timeout_seconds; False when the server is stopping meanwhile."""
        return not self._stopping.wait(self.timeout_seconds)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ParkdwSandboxCarrier/1.0"
    timeout = 10  # seconds an idle keep-alive connection stays open
    disable_nagle_algorithm = True  # headers and body go out as separate writes; don't wait for ACKs between

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        started = time.monotonic()
        app: TrackingApiServer = self.server.app  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            response = _Response(413, {"error": "too_large", "message": f"body over {MAX_BODY_BYTES} bytes"})
            self.close_connection = True
        else:
            body = self.rfile.read(length) if length else b""
            try:
                response = app._handle(method, url.path, url.query, self.headers, body)
            except Exception:
                log.exception("%s %s failed", method, self.path)
                response = _Response(500, {"error": "internal_error", "message": "unexpected server error"})
        delivered = self._send(app, response)
        app._record(response.status)
        notes = (f" fault={response.fault}" if response.fault else "") + ("" if delivered else " (client gone)")
        log.info('%s "%s %s" %d %.1f ms%s', self.client_address[0], method, self.path, response.status,
                 (time.monotonic() - started) * 1000, notes)

    def _send(self, app: TrackingApiServer, response: _Response) -> bool:
        if response.fault == "timeout" and not app._hold():
            self.close_connection = True
            return False
        payload = response.payload
        if payload is None:
            payload = json.dumps(response.body, ensure_ascii=False, separators=(",", ":")).encode()
        sent = payload
        if response.fault == "truncated_json":
            payload = sent = payload[: len(payload) // 2]
        elif response.fault == "truncated_body":
            sent = payload[: len(payload) // 2]
            self.close_connection = True  # Content-Length promises the whole body; the connection ends early
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(sent)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return False
        return True

    def log_request(self, code="-", size="-") -> None:
        pass  # _dispatch logs each request with its duration

    def log_message(self, format: str, *args) -> None:
        log.debug("%s %s", self.client_address[0], format % args)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """`parkdw sandbox serve`: serve a data folder's tracking events until Ctrl-C or SIGTERM.

    Client credentials come from parkdw.settings (PARKDW_SANDBOX_CLIENT_ID / _SECRET), or from
    `environ` when a caller passes one (tests).
    """
    parser = argparse.ArgumentParser(prog="parkdw sandbox serve", description="Serve the sandbox's tracking API.")
    parser.add_argument("--data", type=Path, required=True, help="landing folder holding _sandbox/tracking")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of data requests that fail (0..1)")
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the fault sequence")
    parser.add_argument("--rate-limit", type=float, default=10.0, help="requests per second per token")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not (args.data / TRACKING_DIR).is_dir():
        parser.error(f"--data: no {TRACKING_DIR} folder under {args.data}")
    if environ is None:
        from parkdw.settings import get_settings

        client_id, client_secret = get_settings().sandbox_credentials()
    else:
        client_id, client_secret = environ.get(ENV_CLIENT_ID), environ.get(ENV_CLIENT_SECRET)
    generated = not (client_id and client_secret)
    if generated:
        client_id, client_secret = f"sandbox-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    server = TrackingApiServer(args.data, args.host, args.port, client_id=client_id, client_secret=client_secret,
                               rate_limit_per_second=args.rate_limit, burst=max(1, math.ceil(2 * args.rate_limit)),
                               fault_rate=args.fault_rate, fault_seed=args.fault_seed)
    stop = threading.Event()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if in_main_thread else None
    try:
        with server:
            print(f"tracking API at {server.url} (Ctrl-C to stop)", flush=True)
            if generated:
                print(f"{ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} unset; for this run use\n"
                      f"  client id:     {client_id}\n  client secret: {client_secret}", flush=True)
            stop.wait()
    except KeyboardInterrupt:
        pass  # Ctrl-C: leaving the with block has stopped the server
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
