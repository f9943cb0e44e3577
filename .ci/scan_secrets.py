#!/usr/bin/env python3
"""Fail when a file tracked by git holds a secret: private keys, passwords in URLs, cloud and
service tokens, literal secrets in configuration files, or a committed .env / key file.

    python3 .ci/scan_secrets.py [REPO]      # exit 1 and one line per finding (file:line: rule)

Runs from .ci/run before the tests (standard library only, so before any install). Documented
placeholders (empty values in .env.example, `${VAR}` substitutions, the local development
server's password `test` on loopback) pass; other known examples are listed with a reason in
.ci/secret-scan-allowlist as `path-glob<TAB>regex of the allowed match`. A finding prints the
rule and the place, never the secret itself.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
from pathlib import Path

# A value that is a placeholder, not a secret.
PLACEHOLDER = re.compile(
    r"""^(\$\{[^}]*\}?|\$[A-Z_]+|\{[^}]*\}?|<[^>]*>|%[sr(]?.*|[A-Z][A-Z0-9_]*|\*+|x+|\.\.\.|
         password|passwd|pass|secret|changeme|example|sample[-_\w]*|your[-_\w]*|dummy|placeholder|parse|
         user|login)$""", re.I | re.X)
LOOPBACK = re.compile(r"@(127\.0\.0\.1|localhost|\[::1\])[:/]")

RULES: list[tuple[str, re.Pattern]] = [
    ("private key", re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b")),
    ("AWS secret access key", re.compile(r"(?i)aws_?secret_?access_?key\W{0,5}[=:]\W{0,3}([A-Za-z0-9/+=]{40})\b")),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b")),
    ("GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("Stripe secret key", re.compile(r"\b[sr]k_live_[0-9A-Za-z]{16,}\b")),
    ("JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")),
    # scheme://user:password@host — the password group is checked against the placeholders.
    ("password in a URL", re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]*:([^\s@/'\"]+)@[^\s'\"]")),
]
# KEY=value / key: value lines in configuration files, where a literal value is a leaked secret.
CONFIG_FILES = ("*.env", ".env*", "*.yml", "*.yaml", "*.ini", "*.cfg", "*.toml", "*.conf", "*.properties",
                "Dockerfile", "*.json", "*.sh")
SECRET_ASSIGNMENT = re.compile(
    r"""(?ix)^\s*(?:export\s+|-\s+)?["']?([A-Z0-9_.-]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|
        FERNET_?KEY|PRIVATE_?KEY|MB_DB_PASS)[A-Z0-9_]*)["']?\s*[:=]\s*["']?([^\s"'#]*)""")
FORBIDDEN_FILES = (".env", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519",
                   "*.keystore", ".pgpass", ".netrc")


def tracked_files(repo: Path) -> list[str]:
    out = subprocess.run(["git", "-C", str(repo), "ls-files", "-z"], check=True, capture_output=True).stdout
    return [p for p in out.decode().split("\0") if p]


def load_allowlist(repo: Path) -> list[tuple[str, re.Pattern]]:
    path = repo / ".ci" / "secret-scan-allowlist"
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            glob, _, pattern = line.partition("\t")
            entries.append((glob.strip(), re.compile(pattern.strip())))
    return entries


def _allowed(allowlist, path: str, match: str) -> bool:
    return any(fnmatch.fnmatch(path, glob) and pattern.search(match) for glob, pattern in allowlist)


def _placeholder(value: str) -> bool:
    return value == "" or bool(PLACEHOLDER.match(value.strip("\"'`,;)")))


def scan(repo: Path) -> list[str]:
    findings = []
    allowlist = load_allowlist(repo)
    for path in tracked_files(repo):
        name = Path(path).name
        if any(fnmatch.fnmatch(name, pattern) for pattern in FORBIDDEN_FILES):
            findings.append(f"{path}: a secret-bearing file is tracked by git ({name})")
            continue
        full = repo / path
        if not full.is_file():
            continue  # deleted in the working tree
        data = full.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        is_config = any(fnmatch.fnmatch(name, pattern) for pattern in CONFIG_FILES)
        for line_no, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            for rule, pattern in RULES:
                for match in pattern.finditer(line):
                    if rule == "password in a URL":
                        password = match.group(1)
                        if _placeholder(password) or (password == "test" and LOOPBACK.search(match.group(0))):
                            continue
                    if not _allowed(allowlist, path, match.group(0)):
                        findings.append(f"{path}:{line_no}: {rule}")
            if is_config and (m := SECRET_ASSIGNMENT.match(line)):
                if re.search(r"(FILE|PATH|DIR)$", m.group(1), re.I):
                    continue  # where a secret is kept, not the secret
                if not _placeholder(m.group(2)) and not _allowed(allowlist, path, m.group(0)):
                    findings.append(f"{path}:{line_no}: literal value for {m.group(1)}")
    return findings


def main() -> int:
    repo = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
    findings = scan(repo)
    for finding in findings:
        print(f"secret scan: {finding}", file=sys.stderr)
    files = len(tracked_files(repo))
    print(f"secret scan: {files} tracked files, {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
