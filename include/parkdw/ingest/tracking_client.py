"""Client of the carriers' tracking API: token auth, keyset paging, retries within a budget.

Retries: 429 waits the server's Retry-After; 5xx, timeouts, dropped connections and truncated
(unparseable) pages back off exponentially with full jitter. Every attempt is reported to an
observer (the ingest records them in audit.api_request); the whole call gives up once its time
budget is spent, naming the last error.

Paging asks for the next page while the caller loads the one it has (one request in flight, in a
thread of its own): the partner's time to serve a page overlaps ours to load the one before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator

import requests

log = logging.getLogger(__name__)


class TrackingApiError(RuntimeError):
    """The API could not be read within the retry budget (the message names the last error)."""


@dataclass(frozen=True)
class Page:
    events: list[dict]
    next_cursor: str | None
    has_more: bool
    url: str
    sha256: str  # of the page body as received


@dataclass(frozen=True)
class Attempt:
    url: str
    status: int | None
    outcome: str  # ok | retry_429 | retry_5xx | retry_timeout | retry_connection | retry_truncated | auth
    seconds: float
    waited: float


class TrackingClient:
    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        timeout: float = 10.0,
        budget_seconds: float = 300.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        observer: Callable[[Attempt], None] | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = (client_id, client_secret)
        self.timeout = timeout
        self.budget_seconds = budget_seconds
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._observer = observer or (lambda attempt: None)
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._session = requests.Session()
        self._token: str | None = None
        self._token_expires = 0.0

    def close(self) -> None:
        self._session.close()

    # --- auth ----------------------------------------------------------------------------
    def _bearer(self) -> str:
        if self._token is None or time.monotonic() > self._token_expires - 30:
            response = self._session.post(
                f"{self.base_url}/oauth/token",
                data={"grant_type": "client_credentials", "client_id": self._credentials[0],
                      "client_secret": self._credentials[1]},
                timeout=self.timeout,
            )
            if response.status_code != 200:
                raise TrackingApiError(f"token request refused: HTTP {response.status_code} {response.text[:200]}")
            body = response.json()
            self._token = body["access_token"]
            self._token_expires = time.monotonic() + float(body.get("expires_in", 300))
        return self._token

    # --- one page, with retries ------------------------------------------------------------
    def fetch_page(self, updated_since: str, cursor: str | None = None, limit: int = 1000,
                   cancelled: threading.Event | None = None) -> Page:
        """One page, retried within the budget; `cancelled` set stops the retries (a page asked for
        ahead that the caller no longer wants)."""
        params = {"updated_since": updated_since, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        url = f"{self.base_url}/v1/tracking-events"
        started = time.monotonic()
        attempt = 0
        last_error = "no attempt made"
        while True:
            attempt += 1
            t0 = time.monotonic()
            status, wait = None, 0.0
            try:
                headers = {"Authorization": f"Bearer {self._bearer()}"}
                response = self._session.get(url, params=params, headers=headers, timeout=self.timeout)
                status = response.status_code
                request_url = response.url
                if status == 200:
                    body = response.content
                    try:
                        data = json.loads(body)
                        page = Page(data["data"], data.get("next_cursor"), bool(data.get("has_more")),
                                    request_url, hashlib.sha256(body).hexdigest())
                    except (ValueError, KeyError, TypeError) as exc:
                        outcome, last_error = "retry_truncated", f"unparseable page ({len(body)} bytes): {exc}"
                    else:
                        self._observer(Attempt(request_url, status, "ok", time.monotonic() - t0, 0.0))
                        return page
                elif status == 401:
                    self._token = None  # expired or revoked: get a new one and try again
                    outcome, last_error = "auth", "HTTP 401"
                elif status == 429:
                    outcome, last_error = "retry_429", "HTTP 429 rate limited"
                    wait = _retry_after(response.headers.get("Retry-After"))
                elif status >= 500:
                    outcome, last_error = "retry_5xx", f"HTTP {status}"
                else:
                    raise TrackingApiError(f"GET {request_url}: HTTP {status} {response.text[:300]}")
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
                request_url, outcome, last_error = url, "retry_truncated", f"page cut off in transfer: {exc}"
            except requests.Timeout as exc:
                request_url, outcome, last_error = url, "retry_timeout", f"timeout after {self.timeout}s: {exc}"
            except requests.ConnectionError as exc:
                request_url, outcome, last_error = url, "retry_connection", f"connection error: {exc}"
            if not wait:
                wait = self._rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))
            elapsed = time.monotonic() - started
            self._observer(Attempt(request_url, status, outcome, time.monotonic() - t0, wait))
            if elapsed + wait > self.budget_seconds:
                raise TrackingApiError(
                    f"GET {url} {params}: gave up after {attempt} attempts in {elapsed:.1f}s "
                    f"(budget {self.budget_seconds}s); last error: {last_error}")
            if cancelled is not None and cancelled.is_set():
                raise TrackingApiError(f"GET {url} {params}: not retried, the page is no longer wanted")
            log.info("tracking API %s (attempt %d), retrying in %.2fs", last_error, attempt, wait)
            self._sleep(wait)

    def pages(self, updated_since: str, cursor: str | None = None, limit: int = 1000) -> Iterator[Page]:
        """Every page from a position on, in order; the caller commits each page before asking for
        the next. The next page is requested as soon as this one arrives (its cursor is known), so
        it is on its way while the caller loads this one. A caller that stops early leaves that one
        request to finish (it is not retried) and its page unused."""
        cancelled = threading.Event()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracking-api-next-page")
        try:
            ahead = pool.submit(self.fetch_page, updated_since, cursor, limit, cancelled)
            while True:
                page = ahead.result()
                more = page.has_more and page.next_cursor
                if more:
                    ahead = pool.submit(self.fetch_page, updated_since, page.next_cursor, limit, cancelled)
                yield page
                if not more:
                    return
        finally:
            cancelled.set()
            pool.shutdown(wait=True)


def _retry_after(value: str | None) -> float:
    try:
        return max(1.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0
