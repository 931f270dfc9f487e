"""scripts/postgres.sh replica-start|replica-stop|replica-status on a throwaway primary and replica.

Ports, data and sockets of their own under the test's temporary directory: the shared
clusters on 55432/55433 are never touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "postgres.sh"
# Derived from VAR_DIR by scripts/env.sh unless set: they must not leak in from the caller.
DERIVED = ("PG_DATA", "PG_SOCKET_DIR", "PG_LOG", "RUN_DIR", "LOG_DIR", "PG_REPLICA_DATA", "PG_REPLICA_SOCKET_DIR")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def stack():
    # Not under pytest's temporary root, which only root may enter; short, for the unix sockets.
    var = Path(tempfile.mkdtemp(prefix="cs-replica-", dir="/tmp"))
    environment = {name: value for name, value in os.environ.items() if name not in DERIVED}
    environment |= {
        "VAR_DIR": str(var),
        "PG_PORT": str(free_port()),
        "PG_REPLICA_PORT": str(free_port()),
        "PG_MAX_SLOT_WAL_KEEP_SIZE": "64MB",
    }

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), *arguments], env=environment, capture_output=True, text=True, timeout=120, check=False
        )

    run.var = var  # type: ignore[attr-defined]
    run.environment = environment  # type: ignore[attr-defined]
    yield run
    run("replica-stop")
    run("stop")
    shutil.rmtree(var, ignore_errors=True)


def sql(stack, sql: str, *, replica: bool = False) -> str:
    environment = stack.environment
    port = environment["PG_REPLICA_PORT" if replica else "PG_PORT"]
    socket_dir = stack.var / "run" / ("postgres-replica" if replica else "postgres")
    command = ["psql", "-h", str(socket_dir), "-p", port, "-d", "postgres", "-XAtqc", sql]
    result = subprocess.run(
        ["runuser", "-u", "postgres", "--", *command], capture_output=True, text=True, timeout=30, cwd="/", check=True
    )
    return result.stdout.strip()


def test_the_replica_is_made_once_streams_and_is_remade_when_the_primary_is_reinitialised(stack):
    assert stack("replica-start").returncode == 1  # no primary yet: refused, nothing made
    assert not (stack.var / "postgres-replica").exists()

    assert stack("start").returncode == 0
    first = stack("replica-start")
    assert first.returncode == 0, first.stderr
    assert "making the replica: there is none yet" in first.stdout
    assert "replica streaming" in first.stdout
    assert (stack.var / "postgres-replica" / "standby.signal").exists()

    again = stack("replica-start")
    assert again.returncode == 0, again.stderr
    assert "making the replica" not in again.stdout  # idempotent: nothing re-made
    status = stack("replica-status")
    assert (status.returncode, "streaming" in status.stdout) == (0, True)

    sql(stack, "CREATE TABLE shelf AS SELECT 1 AS book")
    sql(stack, "SELECT pg_sleep(1)")  # the primary's asynchronous commit reaches the standby
    assert sql(stack, "SELECT book FROM shelf", replica=True) == "1"
    assert sql(stack, "SELECT pg_is_in_recovery()", replica=True) == "t"
    assert sql(stack, "SELECT active FROM pg_replication_slots WHERE slot_name = 'cloudshelf_replica'") == "t"

    assert stack("replica-stop").returncode == 0
    assert stack("replica-status").returncode == 3
    # The slot stays, and keeps the WAL the stopped replica will need.
    slot = "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'cloudshelf_replica'"
    assert sql(stack, slot) == "reserved"

    # The primary is wiped and made anew: the old replica belongs to another cluster.
    assert stack("stop").returncode == 0
    subprocess.run(["rm", "-rf", str(stack.var / "postgres")], check=True)
    assert stack("start").returncode == 0
    remade = stack("replica-start")
    assert remade.returncode == 0, remade.stderr
    assert "the primary was re-initialised" in remade.stdout
    assert sql(stack, "SELECT count(*) FROM pg_class WHERE relname = 'shelf'", replica=True) == "0"
    assert not (stack.var / "postgres-replica.building").exists()


@pytest.mark.parametrize("command", ["replica", "replica-promote", "--help", "replica-start; rm -rf /"])
def test_an_unknown_command_is_refused_with_the_usage(stack, command):
    result = stack(command)
    assert result.returncode == 2
    assert "replica-start|replica-stop|replica-status" in result.stderr


def test_stopping_or_asking_about_a_replica_that_was_never_made_is_harmless(stack):
    assert stack("replica-stop").returncode == 0
    assert stack("replica-status").returncode == 3


def standby_lag(stack) -> float:
    """The lag the router measures (``db_router.LAG_QUERY``), asked of the throwaway standby."""
    from cloudshelf.db_router import LAG_QUERY

    in_recovery, lag = sql(stack, LAG_QUERY, replica=True).split("|")
    assert in_recovery == "t"
    return float(lag)


def test_a_standby_cut_off_from_its_primary_counts_as_further_and_further_behind(stack):
    assert stack("start").returncode == 0
    assert stack("replica-start").returncode == 0
    sql(stack, "CREATE TABLE shelf AS SELECT 1 AS book")
    deadline = time.monotonic() + 15
    while sql(stack, "SELECT count(*) FROM pg_class WHERE relname = 'shelf'", replica=True) != "1":
        assert time.monotonic() < deadline, "the standby did not replay the primary's commit"
        time.sleep(0.05)
    assert standby_lag(stack) == 0  # streaming, and everything received is replayed

    # The stream is cut (here by stopping the primary): the standby receives nothing, so
    # "everything received is replayed" stays true while the primary may be taking writes.
    assert stack("stop").returncode == 0
    deadline = time.monotonic() + 15
    while sql(stack, "SELECT count(*) FROM pg_stat_wal_receiver", replica=True) != "0":
        assert time.monotonic() < deadline, "the standby's WAL receiver did not stop"
        time.sleep(0.05)
    first = standby_lag(stack)
    time.sleep(1.1)
    assert standby_lag(stack) >= first + 1 >= 1
