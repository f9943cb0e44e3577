"""Landing locations: where partners drop their files, a local folder or an SFTP server.

Both give the loader the same three things: the entries of a folder, each file as a local path
with its sha256, and the name the file is known by in lineage. An SFTP file is streamed to a
local spool file (checksummed on the way), read by the feed's normal reader, then removed.
SFTP goes through Airflow's SFTP provider: host, login, key and host key come from an Airflow
connection (AIRFLOW_CONN_<PARTNER>_SFTP), never from the URL or the code.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from parkdw.settings import sftp_conn_id

log = logging.getLogger(__name__)


def check_relative(relpath: str) -> str:
    """A path below a landing root, as entries() lists them; ValueError for anything that could
    lead elsewhere (absolute, '..', empty parts, NUL or backslash), whoever supplied the name."""
    parts = relpath.split("/")
    if (not relpath or relpath.startswith("/") or "\x00" in relpath or "\\" in relpath
            or any(p in ("", ".", "..") for p in parts)):
        raise ValueError(f"refusing landing path {relpath!r}: not a plain path below the landing root")
    return relpath


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class LocalLanding:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __enter__(self) -> "LocalLanding":
        return self

    def __exit__(self, *exc) -> None:
        pass

    def entries(self, folder: str) -> tuple[list[str], list[str]]:
        path = self.root / folder
        if path.is_symlink() or not path.is_dir():
            return [], []
        children = sorted(path.iterdir())
        links = [c for c in children if c.is_symlink()]
        for link in links:  # a link can lead out of the landing: never followed
            log.warning("%s: a symbolic link (to %s), not a delivered file or folder: not read", link, os.readlink(link))
        children = [c for c in children if c not in links]
        return [c.name for c in children if c.is_dir()], [c.name for c in children if c.is_file()]

    @contextmanager
    def fetch(self, relpath: str) -> Iterator[tuple[Path, str, str]]:
        path = self.root / check_relative(relpath)
        yield path, str(path), sha256_of(path)


class _HashingSpool:
    """A write-only file that hashes what it is given (the SFTP download's sink)."""

    def __init__(self, file) -> None:
        self._file = file
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self._file.write(data)


class SftpLanding:
    """sftp://[HOST[:PORT]]/ROOT through the partner's Airflow SFTP connection.

    A host or port in the URL overrides the connection's; credentials in the URL are refused.
    Lineage names files as sftp://HOST:PORT/ROOT/..., the address they were read from.
    """

    def __init__(self, url: str, conn_id: str) -> None:
        from airflow.providers.sftp.hooks.sftp import SFTPHook  # only SFTP landings need Airflow

        parts = urlsplit(url)
        if parts.username or parts.password:
            raise ValueError(f"{parts.scheme}://{parts.hostname}...: credentials belong in the Airflow "
                             f"connection {conn_id!r}, not in the landing URL")
        overrides = {"remote_host": parts.hostname, "port": parts.port}
        try:
            self._hook = SFTPHook(ssh_conn_id=conn_id, **{k: v for k, v in overrides.items() if v})
        except Exception as exc:  # Airflow raises its own not-found type; say what to configure
            raise RuntimeError(f"SFTP landing {url}: cannot resolve Airflow connection {conn_id!r} "
                               f"(set AIRFLOW_CONN_{conn_id.upper()}): {exc}") from exc
        self.root = parts.path or "/"
        self.base = f"sftp://{self._hook.remote_host}:{self._hook.port or 22}"
        self._managed = None

    def __enter__(self) -> "SftpLanding":
        # One SSH session for the whole run: every hook call below reuses it.
        self._managed = self._hook.get_managed_conn()
        self._managed.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._managed.__exit__(*exc)

    def entries(self, folder: str) -> tuple[list[str], list[str]]:
        try:
            attrs = self._hook.list_directory_with_attr(posixpath.join(self.root, folder))
        except FileNotFoundError:
            return [], []
        dirs = sorted(a.filename for a in attrs if stat.S_ISDIR(a.st_mode or 0))
        files = sorted(a.filename for a in attrs if stat.S_ISREG(a.st_mode or 0))
        return dirs, files

    @contextmanager
    def fetch(self, relpath: str) -> Iterator[tuple[Path, str, str]]:
        remote = posixpath.join(self.root, check_relative(relpath))
        with tempfile.NamedTemporaryFile(prefix="parkdw-spool-", suffix=posixpath.splitext(remote)[1]) as f:
            spool = _HashingSpool(f)
            self._hook.retrieve_file(remote, spool)
            f.flush()
            yield Path(f.name), self.base + remote, spool.digest.hexdigest()


def open_landing(location: str | Path, partner: str) -> LocalLanding | SftpLanding:
    """A landing location from a folder path or an sftp:// URL."""
    if str(location).startswith("sftp://"):
        return SftpLanding(str(location), sftp_conn_id(partner))
    return LocalLanding(Path(location))
