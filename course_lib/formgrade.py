"""Hand grading in nbgrader's own formgrader, against this course's gradebook.

``course formgrade`` starts a real Jupyter server rooted at the course directory with
nbgrader's formgrader extension, and prints its URL once the server answers (Jupyter logs
only warnings and errors). It reads the same ``nbgrader_config.py`` and the same
gradebook (``db_url``) that ``course autograde`` writes, and the executed notebooks in
``autograded/``, so a TA grades the written answers (``needs_manual_grade`` cells)
in the browser and nbgrader adds those points to each total. Feedback and the Moodle
exports read the totals from the gradebook, so they include the hand-graded points.
"""

from __future__ import annotations

import os
import secrets
import sys

from .config import CourseConfig
from .errors import CourseError


def server_command(config: CourseConfig, *, ip: str, port: int, token: str, open_browser: bool) -> list[str]:
    """The ``jupyter server`` command line that serves the formgrader for this course.

    The login token and the gradebook URL (which may hold a password) are not on the command line,
    where every local user could read them (``ps``): they go in a private config file (mode 0600 in a
    0700 folder) that the server reads at start.
    """
    import json
    import tempfile

    folder = tempfile.mkdtemp(prefix="course-formgrade-")  # 0700
    secrets_file = os.path.join(folder, "jupyter_server_config.json")
    fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"IdentityProvider": {"token": token}, "CourseDirectory": {"db_url": config.db_url}}, f)
    exchange = config.path(".course-cache", "exchange")
    exchange.mkdir(parents=True, exist_ok=True)
    return [sys.executable, "-m", "jupyter_server", f"--config={secrets_file}",
            f"--ServerApp.root_dir={config.root}", f"--ServerApp.ip={ip}", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--ServerApp.open_browser={open_browser}",
            "--ServerApp.default_url=/formgrader",
            # extensions' start-up lines are noise to a grader; warnings and errors still show
            f"--ServerApp.log_level={LOG_LEVEL}", f"--LabApp.log_level={LOG_LEVEL}",
            # the course's own exchange: nbgrader's default (/usr/local/share/...) is not writable, and
            # formgrader logs that as critical on every page, though hand grading never uses it
            f"--Exchange.root={exchange}",
            f"--CourseDirectory.root={config.root}", f"--CourseDirectory.course_id={config.course_id}"] + (
        # Jupyter refuses root unless told; the server is the instructor's own, on loopback by default
        ["--ServerApp.allow_root=True"] if os.geteuid() == 0 else [])


#: How much of Jupyter's log reaches the terminal.
LOG_LEVEL = "WARN"


def formgrade(*, config: CourseConfig, ip: str = "127.0.0.1", port: int = 8890, token: str | None = None,
              open_browser: bool = False, ready_timeout: float = 120) -> int:
    """Run the formgrader until Ctrl-C or SIGTERM; print its URL once it answers; return its exit status."""
    import signal
    import subprocess

    from .gradebook import open_gradebook, tools_on_path

    tools_on_path()
    with open_gradebook(config) as gb:  # an existing one: formgrader on a new, empty gradebook shows nothing
        if not gb.assignments:
            raise CourseError("the gradebook has no assignment yet",
                              hint="autograde an assignment first (course autograde AID)")
        assignments = [a.name for a in gb.assignments]
    from .late import refresh_totals

    for assignment in assignments:  # the totals it shows: today's due dates, penalties and submitted files
        refresh_totals(config, assignment)
    token = token or secrets.token_hex(24)
    host = "localhost" if ip in ("127.0.0.1", "::1", "localhost") else ip
    cmd = server_command(config, ip=ip, port=port, token=token, open_browser=open_browser)
    sys.stdout.flush()
    sys.stderr.flush()
    # its own session: Ctrl-C reaches this process alone, which stops the server with SIGTERM (Jupyter
    # would ask "Shutdown this Jupyter server (y/[n])?" on SIGINT)
    server = subprocess.Popen(cmd, cwd=config.root, start_new_session=True)
    api = f"http://{'127.0.0.1' if host == 'localhost' else ip}:{port}/api"
    stop = lambda *_: _shut_down(api, token, server)  # noqa: E731
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        if not _wait_until_up(f"{api}/status?token={token}", server, ready_timeout):
            code = server.wait()
            raise CourseError(f"the formgrader server stopped at start (exit status {code})",
                              hint=f"see its message above; if port {port} is in use, give another: --port N")
        print(f"\ngradebook: {config.shown_db_url}\nstop with Ctrl-C\n\n"
              f"formgrader is ready: http://{host}:{port}/formgrader?token={token}\n", flush=True)
        while True:
            try:
                code = server.wait()
                return 0 if code == -signal.SIGTERM else code  # stopped as asked
            except KeyboardInterrupt:
                stop()
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        signal.signal(signal.SIGTERM, previous)


def _shut_down(api: str, token: str, server) -> None:
    """Ask the server to stop through its API (a signal would make Jupyter log a critical line)."""
    import urllib.request

    if server.poll() is not None:
        return
    request = urllib.request.Request(f"{api}/shutdown", method="POST", headers={"Authorization": f"token {token}"})
    try:
        urllib.request.urlopen(request, timeout=5).close()
    except OSError:
        server.terminate()


def _wait_until_up(url: str, server, timeout: float) -> bool:
    """Whether the server answers ``url`` before ``timeout`` seconds (``False`` once it has exited)."""
    import time
    import urllib.request

    end = time.monotonic() + timeout
    while time.monotonic() < end and server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    if server.poll() is None:
        raise CourseError(f"the formgrader server did not answer within {timeout:g} s",
                          hint="the machine may be busy: run the same command again")
    return False
