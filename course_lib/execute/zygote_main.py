"""The forking process inside a grading sandbox (sent to it as source text; imports nothing of the course).

It imports what every submission imports anyway (PyTorch, NumPy, ipykernel) once
(what only some need, torch._dynamo, in a thread while its first kernel runs: :class:`Later`),
then, on each request from the grader over its control socket, forks one child
that becomes one student's kernel: the child takes the job's resource limits,
drops to the sandbox's unprivileged uid (when started as root) with no
capabilities and ``no_new_privs``, and starts ipykernel on the connection file it
was given. Between two kernels every other process of the sandbox is killed and
``/tmp`` emptied, so nothing of one submission reaches the next.

Protocol: one JSON object per line each way. Requests: ``spawn`` (connection
file, environment, limits, uid), ``poll``, ``kill``. The process exits when the
grader closes the socket.
"""

import ctypes
import gc
import importlib
import json
import os
import resource
import select
import shutil
import signal
import socket
import sys
import threading
import time

PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_SET_DUMPABLE = 4
HOME = "/home/student"
# seconds without a request after which the later imports start at once: a grader that started this sandbox for a
# kernel asks for it at once
FIRST_REQUEST_WAIT = 0.5
AT_ONCE = "first-kernel-at-once"  # the third argument of a sandbox serving one command (the warm service's, say)
LIMITS = {"data": resource.RLIMIT_DATA, "nproc": resource.RLIMIT_NPROC, "fsize": resource.RLIMIT_FSIZE,
          "nofile": resource.RLIMIT_NOFILE, "core": resource.RLIMIT_CORE}


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def drop_privileges(uid):
    """As ``setpriv --reuid --regid --clear-groups --bounding-set=-all --no-new-privs``; exits if it fails."""
    libc = _libc()
    if uid is not None:
        for cap in range(64):
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:  # EINVAL: no such cap
                break
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        os._exit(71)
    status = open("/proc/self/status").read()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    if int(fields["CapEff"].strip(), 16) or int(fields["CapPrm"].strip(), 16):
        os._exit(72)
    if uid is not None and set(os.getresuid()) | set(os.getresgid()) != {uid}:
        os._exit(73)


def become_kernel(request):
    """In the forked child: limits, identity, environment, then ipykernel (never returns)."""
    try:
        os.setsid()
        for name, value in request["limits"].items():
            resource.setrlimit(LIMITS[name], (value, value))
        drop_privileges(request.get("uid"))
        os.chdir(HOME)
        os.environ.clear()
        os.environ.update(request["env"])
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        sys.argv = ["ipykernel_launcher", "-f", request["connection_file"], *request.get("options", ())]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
    except SystemExit:
        pass
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(0)


PRECOMPILED = "__course_setup_code__"  # instrument.PRECOMPILED: where a kernel finds the set-up's code object
COMPILED = {}  # digest -> the kernel-side module's code object, compiled once for every kernel forked after


def compiled_setup(setup):
    """``(digest, code object)`` of the grading set-up's module the spawn request sends, compiled here once
    (the kernel's set-up cell then need not compile its 45,000 characters); ``None`` without one or when it does
    not compile (the kernel then compiles the set-up cell's own copy, and reports its error)."""
    if not isinstance(setup, dict) or not setup.get("digest"):
        return None
    digest = str(setup["digest"])
    if digest not in COMPILED:
        try:
            COMPILED[digest] = compile(str(setup.get("source", "")), "<course set-up>", "exec")
        except (SyntaxError, ValueError):
            return None
    return digest, COMPILED[digest]


def others():
    """Every live process of this sandbox but its init (1) and this one."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (1, me):
            try:
                state = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                found.append(int(entry))
    return found


def end_everything(child):
    """Kill the kernel and all it started, reap it, and empty /tmp."""
    deadline, pause = time.monotonic() + 10, 0.0005
    while True:
        pids = others()
        if not pids or time.monotonic() > deadline:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        reap(None)
        time.sleep(pause)  # a killed kernel is gone within a few milliseconds; one stuck longer is asked less often
        pause = min(pause * 2, 0.01)
    reap(None)
    empty_tmp()
    return not others()


def empty_tmp(keep=()):
    """Empty /tmp but for the entries ``keep`` (and the sandbox's mount points, which cannot go)."""
    for name in set(os.listdir("/tmp")) - set(keep):
        path = os.path.join("/tmp", name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


EXITED = {}


def reap(child):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        EXITED[pid] = os.waitstatus_to_exitcode(status)


def serve(path, at_once=False):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o600)
    server.listen(1)
    conn, _ = server.accept()
    server.close()
    reader = conn.makefile("r")
    child, later = None, Later()
    # a batch's sandbox does them now, while its grader prepares; one that serves a single command (``at_once``)
    # first forks the kernel the command is waiting for, unless none is asked for at once
    if not at_once or not select.select([conn], [], [], FIRST_REQUEST_WAIT)[0]:
        later.start()
    for line in reader:
        request = json.loads(line)
        op = request["op"]
        if op == "spawn":
            later.finish()
            EXITED.clear()
            setup = compiled_setup(request.get("setup"))
            gc.collect()
            pid = os.fork()
            if pid == 0:
                conn.close()
                reader.close()
                os.closerange(3, 65536)
                if setup is not None:
                    import builtins

                    setattr(builtins, PRECOMPILED, {setup[0]: setup[1]})
                become_kernel(request)
            child = pid
            later.start()  # while this first kernel runs
            reply = {"pid": pid, "setup": setup[0] if setup is not None else None}
        elif op == "poll":
            reap(child)
            reply = {"exit": EXITED.get(child)} if child in EXITED else {"exit": None}
        elif op == "kill":
            clean = end_everything(child)
            later.cleaned()
            # the next spawn may wait for the later imports (the grader allows for it)
            reply = {"exit": EXITED.get(child, -9), "clean": clean, "settling": later.busy()}
            child = None
        else:
            reply = {"error": f"unknown op {op!r}"}
        request = None
        conn.sendall((json.dumps(reply) + "\n").encode())
    if child is not None:
        end_everything(child)


# What a fresh kernel imports after start-up: on its first cell (storemagic, sqlite3, the debugger, psutil for its
# addresses), on its first error (stack_data, pygments' terminal formatter), ...
KERNEL_IMPORTS = ["ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger", "ipykernel.zmqshell",
                  "IPython.core.completerlib", "IPython.core.debugger", "IPython.core.logger", "IPython.core.oinspect",
                  "IPython.extensions.storemagic", "IPython.utils.wildcard", "sqlite3", "faulthandler", "pdb",
                  "stack_data", "pygments.formatters.terminal256", "pygments.styles", "pygments.console",
                  "psutil", "tornado.platform.asyncio"]


def warm_up():
    """Do once, for every kernel to come, what each would otherwise redo: state it only reads."""
    from jupyter_client import localinterfaces

    localinterfaces.localhost()  # every kernel looks up this machine's addresses (with psutil) at start-up
    # the first traceback: inspect's file -> module map of everything imported, IPython's formatter
    import inspect
    from IPython.core import ultratb

    source, filename = "def f():\n    return 1 / 0\nf()\n", "/nonexistent/course-warm-up.py"
    try:
        exec(compile(source, filename, "exec"), {})
    except ZeroDivisionError:
        error = sys.exc_info()
        inspect.getmodule(error[2].tb_frame.f_code, filename)
        ultratb.AutoFormattedTB(mode="Plain", theme_name="linux").structured_traceback(*error)
        error = None


def murmur2_x86(data, seed):
    """ipykernel's ``murmur2_x86``, the same hash, with NumPy mixing the 4-byte blocks all at once.

    ipykernel names each cell's code after this hash of its source (the file name in tracebacks and
    ``co_filename``), computed byte by byte in Python: 25 ms for the grading set-up cell alone, in every
    kernel. Only the chaining of the blocks is left to a Python loop.
    """
    import numpy

    m = 0x5BD1E995
    raw = str.encode(data, "utf8")
    length = len(raw)
    h = seed ^ length
    rounded_end = length & 0xFFFFFFFC
    # each block as ipykernel mixes it (a 32-bit number times m fits in 64 bits)
    ks = numpy.frombuffer(raw, dtype="<u4", count=rounded_end // 4).astype(numpy.uint64)
    ks = (ks * m) & 0xFFFFFFFF
    ks ^= ks >> 24
    ks = (ks * m) & 0xFFFFFFFF
    for k in ks.tolist():
        h = ((h * m) & 0xFFFFFFFF) ^ k
    val = length & 0x03
    k = 0
    if val == 3:
        k = raw[rounded_end + 2] << 16
    if val in (2, 3):
        k |= raw[rounded_end + 1] << 8
    if val in (1, 2, 3):
        k |= raw[rounded_end]
        h ^= k
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def quick_cell_names():
    """Give the kernels the quicker ``murmur2_x86`` where it hashes exactly as ipykernel's own does."""
    from ipykernel import compiler

    samples = ["", "a", "ab", "abc", "abcd", "x = 1\n", "print('é中🙂')\n" * 7, "def f(x):\n    return x\n" * 50]
    seed = compiler.get_tmp_hash_seed()
    if all(murmur2_x86(text, seed) == compiler.murmur2_x86(text, seed) for text in samples):
        compiler.murmur2_x86 = murmur2_x86


def main():
    control, preload = sys.argv[1], sys.argv[2].split(",") if len(sys.argv) > 2 and sys.argv[2] else []
    at_once = len(sys.argv) > 3 and sys.argv[3] == AT_ONCE
    _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no process of the sandbox may read or trace this one
    # Started with -c, Python looks for modules in the working directory first: the home, where each kernel's
    # files lie (a student's own modules among them) while this process imports what only some kernels need.
    # Without it here, each kernel's IPython puts it back where a plainly started kernel has it: after the
    # standard library, before the installed packages.
    sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.abspath(p) != HOME]
    os.chdir(HOME)
    # ipykernel's own imports (its debugger alone is ~80 ms), then the course's libraries
    for name in [*KERNEL_IMPORTS, *preload]:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a missing optional package: kernels import it themselves, or fail as usual
            print(f"preload {name}: {exc!r}", flush=True)
    try:
        quick_cell_names()
    except Exception as exc:  # only a speed-up: kernels hash as ipykernel does
        print(f"cell names: {exc!r}", flush=True)
    settle()
    serve(control, at_once)


def settle():
    """The warm-up that maps every module imported so far (last), then a frozen heap the children share."""
    try:
        warm_up()
    except Exception as exc:  # only a speed-up: kernels do it themselves
        print(f"warm-up: {exc!r}", flush=True)
    gc.collect()
    gc.freeze()  # imported objects stay shared with the children (no copy-on-write from the collector)


class Later:
    """What only some kernels need, imported once in a thread of this process while its first kernel runs.

    PyTorch's first ``TorchDispatchMode`` (the hidden tests of some notebooks refuse operations through
    one) imports torch._dynamo, and with it TorchInductor's config and sympy: about 800 modules, 0.8 s.
    The first kernel is forked before (it imports them itself if it needs them, as a fresh kernel does),
    so ``course grade`` is not kept waiting for modules it may never use; every later kernel of a batch
    or of the warm service is forked after them. Nothing is ever forked while the thread runs: a spawn
    waits for it (:meth:`finish`), and a fork copies no thread but the caller.
    """

    def __init__(self):
        self.thread = None
        self.tmp = os.listdir("/tmp")  # as a kernel may find it: the mount points of the connection files

    def start(self):
        if self.thread is None and "torch" in sys.modules:
            self.thread = threading.Thread(target=self._imports, name="later-imports", daemon=True)
            self.thread.start()

    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def finish(self):
        """Before a fork, while no kernel lives: the thread done, and what it left in /tmp removed."""
        if self.thread is not None:
            self.thread.join()
            empty_tmp(keep=self.tmp)  # TorchInductor's cache directory, say: not the next kernel's

    def cleaned(self):
        """After a kernel ended and /tmp was emptied: what is left there is the sandbox's own."""
        self.tmp = os.listdir("/tmp")

    @staticmethod
    def _imports():
        try:
            import torch
            import torch._inductor.config  # noqa: F401 (what use_deterministic_algorithms imports)
            from torch.utils._python_dispatch import TorchDispatchMode

            class Passing(TorchDispatchMode):
                def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                    return func(*args, **(kwargs or {}))

            with Passing():  # an operation under a mode: the first one imports torch._dynamo
                torch.ones(1)
        except Exception as exc:  # only a speed-up: kernels do it themselves
            print(f"later imports: {exc!r}", flush=True)
        settle()


if __name__ == "__main__":
    main()
