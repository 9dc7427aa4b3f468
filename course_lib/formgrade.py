"""Hand grading in nbgrader's own formgrader, against this course's gradebook.

``course formgrade`` starts a real Jupyter server rooted at the course directory with
nbgrader's formgrader extension. It reads the same ``nbgrader_config.py`` and the same
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
    return [sys.executable, "-m", "jupyter_server", f"--config={secrets_file}",
            f"--ServerApp.root_dir={config.root}", f"--ServerApp.ip={ip}", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--ServerApp.open_browser={open_browser}",
            "--ServerApp.default_url=/formgrader",
            f"--CourseDirectory.root={config.root}", f"--CourseDirectory.course_id={config.course_id}"] + (
        # Jupyter refuses root unless told; the server is the instructor's own, on loopback by default
        ["--ServerApp.allow_root=True"] if os.geteuid() == 0 else [])


def formgrade(*, config: CourseConfig, ip: str = "127.0.0.1", port: int = 8890, token: str | None = None,
              open_browser: bool = False) -> int:
    """Run the formgrader in place of this process (until Ctrl-C); only returns by raising."""
    from .gradebook import open_gradebook, tools_on_path

    tools_on_path()
    with open_gradebook(config) as gb:  # an existing one: formgrader on a new, empty gradebook shows nothing
        if not gb.assignments:
            raise CourseError("the gradebook has no assignment yet",
                              hint="autograde an assignment first (course autograde AID)")
    token = token or secrets.token_hex(24)
    host = "localhost" if ip in ("127.0.0.1", "::1", "localhost") else ip
    print(f"formgrader: http://{host}:{port}/formgrader?token={token}", flush=True)
    print(f"gradebook: {config.shown_db_url}\nstop with Ctrl-C", flush=True)
    cmd = server_command(config, ip=ip, port=port, token=token, open_browser=open_browser)
    sys.stdout.flush()
    sys.stderr.flush()
    # The server replaces this process: Ctrl-C and SIGTERM reach Jupyter itself and nothing is left behind.
    os.chdir(config.root)
    os.execv(cmd[0], cmd)
    return 0  # not reached
