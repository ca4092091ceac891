"""A throwaway PostgreSQL server for CI (Debian's `postgresql` package): its own data directory,
127.0.0.1 on a free port, trust authentication, one database for Dagster's instance.

    python3 .ci/postgres.py start DIR   # prints `export DAGSTER_PG_...=...` lines for eval
    python3 .ci/postgres.py stop DIR

Standard library only: it runs before the project's virtualenv exists. As root (CI's
containers) the server runs as the `postgres` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

DATABASE = "dagster"
USER = "dagster"


def _bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise SystemExit(f"{name} not found: install Debian's postgresql package (apt-get install postgresql)")
    return found


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    data, log = folder / "data", folder / "server.log"
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    subprocess.run(
        _as_server_user([_bin("initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8"]),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = _free_port()
    options = f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=200"
    subprocess.run(
        _as_server_user([_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while subprocess.run(
        [_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL
    ).returncode:
        if time.monotonic() > deadline:
            raise SystemExit(f"PostgreSQL did not answer on 127.0.0.1:{port} within 30 s; see {log}")
        time.sleep(0.2)
    subprocess.run([_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE], check=True)
    return {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(port),
        "DAGSTER_PG_USER": USER,
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": DATABASE,
    }


def stop(folder: Path) -> None:
    data = folder / "data"
    if (data / "postmaster.pid").exists():
        subprocess.run(_as_server_user([_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), check=False)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(argv[1]).resolve()
    if argv[0] == "start":
        for name, value in start(folder).items():
            print(f"export {name}='{value}'")
    else:
        stop(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
