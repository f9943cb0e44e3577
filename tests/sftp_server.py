"""A real SFTP server on loopback (asyncssh, already installed with Airflow's SFTP provider)
serving a folder, with a random password and a fresh host key per server."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from pathlib import Path

import asyncssh


class SftpServer:
    def __init__(self, root: Path, username: str = "customs") -> None:
        self.root = root
        self.username = username
        self.password = secrets.token_urlsafe(16)
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.port: int | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server = None

    def _auth(self):
        server = self

        class Auth(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                return username == server.username and secrets.compare_digest(password, server.password)

        return Auth

    async def _listen(self):
        return await asyncssh.listen(
            "127.0.0.1", 0, server_host_keys=[self.host_key], server_factory=self._auth(),
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(self.root).encode()),
            allow_scp=False)

    def start(self) -> "SftpServer":
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=30)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def airflow_connection(self) -> str:
        """The server as an Airflow connection (JSON form), pinning its host key."""
        public = self.host_key.export_public_key("openssh").decode().split()[:2]
        return json.dumps({"conn_type": "sftp", "host": "127.0.0.1", "port": self.port, "login": self.username,
                           "password": self.password, "extra": {"host_key": " ".join(public)}})
