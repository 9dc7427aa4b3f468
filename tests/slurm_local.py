"""A real single-node Slurm cluster for the tests: munged, slurmctld and slurmd on loopback in a temporary folder.

Debian's ``munge``, ``slurmctld`` and ``slurmd`` packages (``make setup`` installs them as root). The node
advertises one ``gpu`` generic resource backed by a file in the temporary folder: Slurm schedules it as a GPU,
the work itself runs on the CPU. Everything started here is stopped when the context ends, and every job of the
cluster is cancelled first; :func:`local_slurm` raises :class:`Unavailable` (the tests skip) when the machine
cannot run it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

NODE = "gradenode"
PARTITION = "grading"
BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "sinfo")


class Unavailable(Exception):
    """This machine cannot run the local Slurm cluster (the message says why)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _conf(tmp: Path, cpus: int, memory_mb: int) -> str:
    return f"""\
ClusterName=course-test
SlurmctldHost={socket.gethostname().split(".")[0]}(127.0.0.1)
MailProg=/bin/true
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={tmp}/munge.socket
StateSaveLocation={tmp}/state
SlurmdSpoolDir={tmp}/spool
SlurmctldPidFile={tmp}/slurmctld.pid
SlurmdPidFile={tmp}/slurmd.pid
SlurmctldLogFile={tmp}/slurmctld.log
SlurmdLogFile={tmp}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
GresTypes=gpu
NodeName={NODE} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} Gres=gpu:1 State=UNKNOWN
PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
"""


def _wait(what: str, ready, procs: dict, seconds: float, logs: list[Path]) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        dead = [name for name, proc in procs.items() if proc.poll() is not None]
        if dead or time.monotonic() > deadline:
            tail = "\n".join(f"--- {log.name}\n" + log.read_text(errors="replace")[-1500:]
                             for log in logs if log.exists())
            raise Unavailable(f"{what} did not come up" + (f" ({', '.join(dead)} exited)" if dead else "")
                              + f"\n{tail}")
        time.sleep(0.2)


def _quiet(cmd: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def local_slurm(tmp: Path, *, cpus: int = 2, memory_mb: int = 4000) -> Iterator[dict]:
    """Run the cluster; yields the environment (``SLURM_CONF``) its client commands need.

    The node declares at most the machine's cores and half its memory: slurmd refuses a node that
    declares more than it has.
    """
    cpus = max(1, min(cpus, os.cpu_count() or 1))
    with contextlib.suppress(OSError, ValueError, IndexError):
        total_kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        memory_mb = min(memory_mb, total_kb // 2048)
    missing = [b for b in BINARIES if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]
    if missing:
        raise Unavailable(f"Slurm or munge is not installed (missing {', '.join(missing)}): "
                          "apt-get install slurmd slurmctld munge, or make setup as root")
    if os.geteuid() != 0:
        raise Unavailable("slurmd must run as root to start jobs; run the tests as root")
    tmp.mkdir(parents=True, exist_ok=True)
    for sub in ("state", "spool"):
        (tmp / sub).mkdir(exist_ok=True)
    key = tmp / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    conf = tmp / "slurm.conf"
    conf.write_text(_conf(tmp, cpus, memory_mb))
    (tmp / "gpu0").touch()
    (tmp / "gres.conf").write_text(f"NodeName={NODE} Name=gpu File={tmp}/gpu0\n")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    procs: dict[str, subprocess.Popen] = {}
    sbin = lambda name: shutil.which(name) or f"/usr/sbin/{name}"  # noqa: E731
    try:
        procs["munged"] = subprocess.Popen(
            [sbin("munged"), "--foreground", "--force", f"--key-file={key}", f"--socket={tmp}/munge.socket",
             f"--pid-file={tmp}/munged.pid", f"--log-file={tmp}/munged.log", f"--seed-file={tmp}/munged.seed"],
            stdout=subprocess.DEVNULL, stderr=open(tmp / "munged.err", "w"), start_new_session=True)
        _wait("munged", lambda: (tmp / "munge.socket").exists(), procs, 20, [tmp / "munged.err", tmp / "munged.log"])
        procs["slurmctld"] = subprocess.Popen([sbin("slurmctld"), "-D", "-i", "-f", str(conf)], env=env,
                                              stdout=subprocess.DEVNULL, stderr=open(tmp / "slurmctld.err", "w"),
                                              start_new_session=True)
        procs["slurmd"] = subprocess.Popen([sbin("slurmd"), "-D", "-N", NODE, "-f", str(conf)], env=env,
                                           stdout=subprocess.DEVNULL, stderr=open(tmp / "slurmd.err", "w"),
                                           start_new_session=True)

        def idle() -> bool:
            out = _quiet(["sinfo", "-h", "-N", "-o", "%T"], env)
            return out.returncode == 0 and out.stdout.strip().rstrip("*") in ("idle", "mixed", "allocated")

        _wait("the Slurm node", idle, procs, 60, [tmp / f"{n}.{e}" for n in ("slurmctld", "slurmd")
                                                    for e in ("err", "log")])
        yield env
    finally:
        with contextlib.suppress(Exception):
            if "slurmctld" in procs and procs["slurmctld"].poll() is None:
                _quiet(["scancel", "--full", "-p", PARTITION], env)
                deadline = time.monotonic() + 20
                while _quiet(["squeue", "-h", "-o", "%i"], env).stdout.strip() and time.monotonic() < deadline:
                    time.sleep(0.5)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = procs.get(name)
            if proc is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
