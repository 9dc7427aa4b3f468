"""A warm grading sandbox that outlives one command: ``course grade`` and ``course check`` reuse it.

Grading one notebook costs about a second of work and, before it, the start of a
grading sandbox that imports PyTorch (1.5-2 s on a small machine). A batch pays
that once for hundreds of notebooks; an instructor re-grading students one by
one, or a student checking a notebook again and again, would pay it every time.
So the first such command starts a small local service that holds one
:class:`~course_lib.execute.pool.Zygote` (the same bwrap sandbox, limits and uid
as a batch's) and lends it to the commands that follow, one at a time. It ends
by itself after ``warm_idle`` seconds without a command (``c.Course.warm_idle``;
``COURSE_WARM_IDLE`` in the environment overrides it; 0 turns it off), or with
``course warm stop``.

Nothing of one command's notebooks reaches the next: every kernel is forked
for one notebook and, whatever the command did or however it ended, the
service kills every process of the sandbox's uid and empties the sandbox's
home, connection folder and ``/tmp`` before it lends the sandbox again, exactly
as a batch does between two students. A sandbox that cannot be made clean
ends the service; the next command starts a fresh one.

A service serves only commands whose kernels it can fork: same sandbox policy,
device and start-up environment (:func:`~course_lib.execute.pool.pool_key`),
the same interpreter and installed packages, the same sandbox code. Its socket
lives in a private folder of the user (``0700``) under the temporary directory,
named by the digest of all that, so another user cannot reach it and a changed
set-up never meets a stale sandbox (the old one idles out). A command that finds
the service busy with another command does not queue behind it: it starts its
own sandbox, as it would without the service.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import pickle
import pkgutil
import signal
import site
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import pool as pools
from . import sandbox
from .pool import Zygote, ZygoteError

IDLE_ENV = "COURSE_WARM_IDLE"
DEFAULT_IDLE = 300  # seconds
OPS = ("spawn", "poll", "kill")  # what a command may ask of the service's sandbox
BIND_TIMEOUT = 30  # seconds for a new service to listen (a Python start; its sandbox starts after)
LEND_LIMIT = 3600  # seconds a command may stay silent before the service takes its sandbox back
log = logging.getLogger(__name__)


def idle_seconds(configured: int) -> int:
    """The idle time the service keeps a sandbox for: ``COURSE_WARM_IDLE`` if set, else the course's setting."""
    value = os.environ.get(IDLE_ENV, "").strip()
    if value:
        try:
            return max(0, int(float(value)))
        except ValueError:
            raise ZygoteError(f"{IDLE_ENV}={value!r} is not a number of seconds") from None
    return max(0, int(configured))


def folder() -> Path:
    """This user's private folder of services, made ``0700``; refused if anyone else could reach into it."""
    path = Path(tempfile.gettempdir()) / f"course-warm-{os.geteuid()}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise ZygoteError(f"{path} is not a private folder of this user; the warm sandbox is not used")
    return path


def service_key(job, env: dict) -> str:
    """The digest naming the one service that may fork kernels for ``job``: see the module's docstring."""
    h = hashlib.sha256(repr(pools.pool_key(job, env)).encode())
    h.update(f"{sys.executable}\0{sys.prefix}\0{sys.version}\0{os.geteuid()}".encode())
    for name in ("pool.py", "sandbox.py", "warm.py", pools.ZYGOTE_MODULE):
        h.update(hashlib.sha256(pkgutil.get_data(__package__, name)).digest())
    # installing, upgrading or removing a package changes its site-packages folder
    for directory in sorted({*site.getsitepackages(), site.getusersitepackages()}):
        with contextlib.suppress(OSError):
            h.update(f"{directory}\0{os.stat(directory).st_mtime_ns}".encode())
    return h.hexdigest()[:24]


# -- the command's side ---------------------------------------------------

class LentZygote(Zygote):
    """The service's sandbox, lent to this command: used as a :class:`Zygote`, closed by giving it back."""

    def __init__(self, job, env: dict, idle: int):
        self._blank(job, env)
        self.lock = threading.Lock()
        try:
            hello = self._connect(job, env, idle)
        except BaseException:
            self.close()
            raise
        self.service_pid = hello["pid"]
        self.scratch, self.home, self.conn = Path(hello["scratch"]), Path(hello["home"]), Path(hello["conn"])
        self.slot, self.uid = hello["slot"], hello["uid"]

    def _connect(self, job, env: dict, idle: int) -> dict:
        where = folder()
        key = service_key(job, env)
        path = where / f"{key}.sock"
        if len(os.fsencode(path)) > 100:  # a Unix socket's path has room for 107 bytes
            raise ZygoteError(f"the temporary directory's path is too long for the warm sandbox's socket ({path})")
        with _locked(where / f"{key}.lock"):  # one command at a time finds (or starts) the service
            # held while this command has the sandbox: another command starts its own instead of waiting
            if not _try_lock(self._stack, where / f"{key}.busy"):
                raise ZygoteError("the warm sandbox is busy with another command")
            self.sock = _dial(path)
            if self.sock is None:
                _start_service(where, key, job, env, idle)
                self.sock = _dial(path, wait=BIND_TIMEOUT)
                if self.sock is None:
                    raise ZygoteError(f"the warm sandbox did not start: {_tail(where / f'{key}.log')}")
        # the service answers once its sandbox is up (just started) or clean again (after the last command)
        self.sock.settimeout(pools.START_TIMEOUT)
        self.reader = self.sock.makefile("r")
        try:
            line = self.reader.readline()
        except OSError:
            line = ""
        if not line:
            raise ZygoteError(f"the warm sandbox ended: {_tail(where / f'{key}.log')}")
        hello = json.loads(line)
        if "error" in hello:
            raise ZygoteError(f"the warm sandbox could not start: {hello['error']}")
        self.sock.settimeout(pools.REQUEST_TIMEOUT)
        return hello

    def alive(self) -> bool:
        return self.sock is not None and not self.ended.is_set()

    def close(self) -> None:
        """Give the sandbox back: the service cleans it up for the next command."""
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)  # the service sees the end now, whoever still holds the socket
            if getattr(self, "reader", None) is not None:
                self.reader.close()
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None
        self._stack.close()
        self.ended.set()


def lend(job, env: dict, idle: int) -> Zygote:
    """The warm service's sandbox for ``job`` (started now if there is none); :class:`ZygoteError` if not to be had."""
    if idle <= 0:
        raise ZygoteError("the warm sandbox is turned off")
    return LentZygote(job, env, idle)


def zygote_for(idle: int):
    """What a pool of one starts its sandbox with: the service's when it can be had, else its own."""
    def start(job, env: dict) -> Zygote:
        if idle > 0:
            try:
                return lend(job, env, idle)
            except Exception as exc:  # whatever keeps the service from serving, this command grades all the same
                log.info("warm sandbox: %s; starting a sandbox for this command", exc)
        return Zygote(job, env, at_once=True)
    return start


def _try_lock(stack: contextlib.ExitStack, path: Path) -> bool:
    """Hold an exclusive lock on ``path`` until ``stack`` closes; ``False`` at once if another process holds it."""
    handle = open(path, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    stack.callback(handle.close)  # closing releases the lock
    return True


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _dial(path: Path, wait: float = 0.0) -> socket.socket | None:
    """A connection to the service's socket; ``None`` if nothing listens there (within ``wait`` seconds)."""
    deadline = time.monotonic() + wait
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return sock
        except OSError:
            sock.close()
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


def _start_service(where: Path, key: str, job, env: dict, idle: int) -> None:
    """Start the service in its own session, detached from this command (``setsid -f``): it outlives it."""
    with open(where / f"{key}.alive", "a") as alive:
        try:
            fcntl.flock(alive, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # it runs, but takes no more commands now
            raise ZygoteError("the warm sandbox is busy with other commands") from None
    with contextlib.suppress(FileNotFoundError):
        (where / f"{key}.sock").unlink()  # a service killed without ending leaves its socket
    order = where / f"{key}.job"
    tmp = order.with_name(f"{order.name}.{os.getpid()}")
    tmp.write_bytes(pickle.dumps({"job": job, "env": env, "idle": idle}))
    tmp.replace(order)
    package_root = str(Path(__file__).resolve().parents[2])
    child_env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [package_root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    with open(where / f"{key}.log", "ab") as log:
        subprocess.run(["setsid", "-f", sys.executable, "-m", "course_lib.execute.warm", str(where), key],
                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=child_env, cwd="/",
                       check=True, timeout=60)


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-400:].strip() or "(nothing logged)"
    return "(no log)"


# -- the service ----------------------------------------------------------

def services() -> list[dict]:
    """This user's running services, as each describes itself."""
    try:
        where = folder()
    except ZygoteError:
        return []
    found = []
    for info in sorted(where.glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            about = json.loads(info.read_text())
            if _alive(about.get("pid", 0)):
                found.append(about)
    return found


def stop_all(timeout: float = 15.0, keys=None) -> int:
    """End this user's services (those of ``keys`` only, if given); the number that were running.

    Each cleans up its sandbox first, and one that is serving a command ends when that command is done.
    """
    running = [about for about in services() if keys is None or about["key"] in keys]
    for about in running:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(about["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(_alive(a["pid"]) for a in running) and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(running)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def serve(where: Path, key: str) -> None:
    """The service: one sandbox, lent to one command at a time, until ``idle`` seconds pass without one."""
    alive = open(where / f"{key}.alive", "a")
    try:
        fcntl.flock(alive, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another service has this key
    order = pickle.loads((where / f"{key}.job").read_bytes())
    job, env, idle = order["job"], order["env"], order["idle"]
    path, info = where / f"{key}.sock", where / f"{key}.json"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    server.bind(str(path))
    os.chmod(path, 0o600)
    server.listen(8)
    lending = {"now": False, "stop": False}

    def stop(*_):  # `course warm stop`: at once when idle, else once the command being served is done
        lending["stop"] = True
        if not lending["now"]:
            sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    zygote = None
    try:
        try:
            zygote = Zygote(job, env, at_once=True)
        except BaseException as exc:
            _refuse_all(server, f"{type(exc).__name__}: {exc}")
            raise
        about = {"pid": os.getpid(), "key": key, "device": zygote.device, "idle": idle, "assignment": job.assignment,
                 "started": time.time(), "policy": repr(job.policy), "served": 0, "uid": zygote.uid, "conn": str(zygote.conn)}
        _write(info, about)
        server.settimeout(idle)
        while zygote.alive() and not lending["stop"]:
            try:
                conn, _ = server.accept()
            except socket.timeout:
                break
            lending["now"] = True
            about["served"] += 1
            _write(info, about)
            with conn:
                _lend(conn, zygote)
            clean = _clean(zygote)
            lending["now"] = False
            if not clean:
                break
    finally:
        server.close()
        for leftover in (path, info, where / f"{key}.job"):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        if zygote is not None:
            zygote.close()
        alive.close()


def _write(path: Path, about: dict) -> None:
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text(json.dumps(about))
    tmp.replace(path)  # whole or not at all, for `course warm status` reading it meanwhile


def _lend(conn: socket.socket, zygote: Zygote) -> None:
    """Serve one command: say where the sandbox is, then pass its requests on until it hangs up."""
    hello = {"pid": os.getpid(), "scratch": str(zygote.scratch), "home": str(zygote.home),
             "conn": str(zygote.conn), "slot": zygote.slot, "uid": zygote.uid}
    try:
        conn.settimeout(LEND_LIMIT)
        conn.sendall((json.dumps(hello) + "\n").encode())
        for line in conn.makefile("r"):
            request = json.loads(line)
            if request.get("op") not in OPS:
                reply = {"error": f"unknown op {request.get('op')!r}"}
            else:
                reply = zygote.request(**request)
            conn.sendall((json.dumps(reply) + "\n").encode())
    except (OSError, ValueError, ZygoteError):
        pass  # the command ended or broke off: the sandbox is cleaned up all the same


def _clean(zygote: Zygote) -> bool:
    """Every process of the sandbox killed, its home, connections and /tmp empty: ``False`` if not so."""
    try:
        reply = zygote.request(op="kill")
    except ZygoteError:
        return False
    gone = sandbox.end_all(zygote.uid)
    pools._empty(zygote.home)
    pools._empty(zygote.conn)
    return bool(reply.get("clean")) and gone and zygote.alive()


def _refuse_all(server: socket.socket, error: str) -> None:
    """Tell the commands already waiting why there is no sandbox (they start their own)."""
    server.settimeout(0.2)
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn, contextlib.suppress(OSError):
            conn.sendall((json.dumps({"error": error}) + "\n").encode())


if __name__ == "__main__":
    serve(Path(sys.argv[1]), sys.argv[2])
