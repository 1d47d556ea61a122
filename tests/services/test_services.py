"""The local services, started on ports of their own beside the suite's servers."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import gridfs
import neo4j
import psutil
import pymongo
import pytest

from fedprov.errors import (
    AuthenticationError,
    ConfigurationError,
    PortInUseError,
    ServiceError,
)
from fedprov.services.manager import services_down, services_status, services_up
from fedprov.services.neo4j_server import Neo4jServer, generate_password
from fedprov.services.processes import is_listening, pid_alive
from fedprov.services.state import read_state
from fedprov.settings import Settings, load_settings
from fedprov.store.neo4j.connection import open_driver

BOLT, HTTP, MONGO = 37687, 37474, 37017


def _settings(home: Path, **extra: str) -> Settings:
    env = {
        "FEDPROV_HOME": str(home),
        "FEDPROV_NEO4J_BOLT_PORT": str(BOLT),
        "FEDPROV_NEO4J_HTTP_PORT": str(HTTP),
        "FEDPROV_MONGO_PORT": str(MONGO),
        "FEDPROV_NEO4J_HEAP": "512m",
        "FEDPROV_NEO4J_PAGECACHE": "128m",
    }
    if os.environ.get("FEDPROV_CACHE"):
        env["FEDPROV_CACHE"] = os.environ["FEDPROV_CACHE"]
    env.update(extra)
    return load_settings(env)


@pytest.fixture(scope="module")
def own_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = _settings(tmp_path_factory.mktemp("services-home"))
    services_up(settings)
    try:
        yield settings
    finally:
        services_down(settings)


def test_services_up_neo4j_round_trip(own_services: Settings) -> None:
    driver, database = open_driver(own_services)
    with driver:
        driver.execute_query(
            "CREATE (:ServicesProbe {name: $name})", name="probe", database_=database
        )
        records, _, _ = driver.execute_query(
            "MATCH (p:ServicesProbe {name: $name}) RETURN count(p) AS n",
            name="probe",
            database_=database,
        )
    assert records[0]["n"] == 1


def test_services_neo4j_runs_nicer(own_services: Settings) -> None:
    pid = read_state(own_services)["neo4j"]["pid"]
    threads = psutil.Process(pid).threads()
    # Every JVM thread, not only the first, carries the lower priority.
    nice_values = {os.getpriority(os.PRIO_PROCESS, thread.id) for thread in threads}

    assert own_services.neo4j_nice == 10
    assert nice_values == {min(19, os.nice(0) + 10)}


@pytest.mark.parametrize("raw", ["-1", "20", "low"])
def test_settings_invalid_neo4j_nice(raw: str) -> None:
    with pytest.raises(ConfigurationError, match=f"FEDPROV_NEO4J_NICE='{raw}'"):
        load_settings({"FEDPROV_NEO4J_NICE": raw})


def test_services_browser_page_served(own_services: Settings) -> None:
    with urllib.request.urlopen(
        f"http://127.0.0.1:{HTTP}/browser/", timeout=10
    ) as page:
        body = page.read().decode()
    assert page.status == 200
    assert "<title>Neo4j Browser</title>" in body


def test_services_state_file_private(own_services: Settings) -> None:
    mode = stat.S_IMODE(own_services.state_file.stat().st_mode)
    assert mode == 0o600
    assert read_state(own_services)["neo4j"]["password"]


def _listen_addresses(port: int) -> list[str]:
    output = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return [line.split()[3].rsplit(":", 1)[0] for line in output.splitlines()]


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss from iproute2")
def test_services_listen_on_loopback_only(own_services: Settings) -> None:
    for port in (BOLT, HTTP, MONGO):
        addresses = _listen_addresses(port)
        assert addresses, f"nothing listens on port {port}"
        for address in addresses:
            assert address in {"127.0.0.1", "[::ffff:127.0.0.1]"}, (port, address)


def test_services_second_up_reuses_servers(own_services: Settings) -> None:
    before = read_state(own_services)
    services_up(own_services)
    after = read_state(own_services)
    assert after["neo4j"]["pid"] == before["neo4j"]["pid"]
    assert after["ferretdb"]["pid"] == before["ferretdb"]["pid"]


def test_services_gridfs_round_trip_2mb(own_services: Settings) -> None:
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        f"mongodb://127.0.0.1:{MONGO}/", serverSelectionTimeoutMS=10_000
    )
    payload = os.urandom(2 * 1024 * 1024 + 17)
    with client:
        bucket = gridfs.GridFSBucket(client["services_test"])
        file_id = bucket.upload_from_stream("blob", payload)
        chunks = client["services_test"]["fs.chunks"].count_documents(
            {"files_id": file_id}
        )
        restored = bucket.open_download_stream(file_id).read()
        client.drop_database("services_test")
    assert chunks == 9  # 255 KiB chunks
    assert restored == payload


def test_services_wrong_password_rejected(own_services: Settings) -> None:
    wrong = _settings(
        own_services.home,
        NEO4J_URI=f"bolt://127.0.0.1:{BOLT}",
        NEO4J_USER="neo4j",
        NEO4J_PASSWORD="not-the-password",
    )
    with pytest.raises(AuthenticationError, match="rejected user 'neo4j'"):
        open_driver(wrong)


def test_services_taken_port_names_setting(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        settings = _settings(tmp_path, FEDPROV_MONGO_PORT=str(port))
        with pytest.raises(PortInUseError, match=f"port {port}.*FEDPROV_MONGO_PORT"):
            services_up(settings, ("ferretdb",))


def test_services_external_uri_starts_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path, MONGODB_URI="mongodb://127.0.0.1:1/")
    services_up(settings, ("ferretdb",))
    assert "ferretdb" not in read_state(settings)
    assert services_status(settings)[1]["status"] == "external"


def test_services_down_leaves_nothing(tmp_path_factory: pytest.TempPathFactory) -> None:
    port = MONGO + 10
    home = tmp_path_factory.mktemp("down-home")
    settings = _settings(home, FEDPROV_MONGO_PORT=str(port))
    services_up(settings, ("ferretdb",))
    pid = read_state(settings)["ferretdb"]["pid"]
    services_down(settings)
    assert not pid_alive(pid)
    assert not is_listening(port)


def test_neo4j_driver_reports_unreachable(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, NEO4J_URI="bolt://127.0.0.1:1", NEO4J_PASSWORD="irrelevant"
    )
    with pytest.raises(Exception, match="unreachable") as info:
        open_driver(settings)
    assert not isinstance(info.value, neo4j.exceptions.Neo4jError)


def test_neo4j_invalid_setting_names_value(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        FEDPROV_NEO4J_BOLT_PORT=str(BOLT + 200),
        FEDPROV_NEO4J_HTTP_PORT=str(HTTP + 200),
        FEDPROV_NEO4J_PAGECACHE="not-a-size",
    )
    with pytest.raises(ServiceError, match="'not-a-size' is not a valid size"):
        services_up(settings, ("neo4j",))


def test_neo4j_failed_start_shows_log(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        FEDPROV_NEO4J_BOLT_PORT=str(BOLT + 100),
        FEDPROV_NEO4J_HTTP_PORT=str(HTTP + 100),
        FEDPROV_NEO4J_HEAP="1x",
    )
    with pytest.raises(ServiceError, match=r"(?s)exited during start-up.*heap size"):
        services_up(settings, ("neo4j",))
    assert not is_listening(BOLT + 100)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"NEO4J_URI": "notauri", "NEO4J_PASSWORD": "x"},
            "'notauri' is not a Bolt URI",
        ),
        ({"NEO4J_URI": "bolt://127.0.0.1:1"}, "NEO4J_PASSWORD is not set"),
    ],
    ids=["not-bolt", "no-password"],
)
def test_neo4j_external_settings_checked(
    tmp_path: Path, extra: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        open_driver(_settings(tmp_path, **extra))


def test_initial_password_leading_dash(tmp_path: Path) -> None:
    # Without "--", neo4j-admin reads such a password as an option and fails
    # with "Missing required parameter: '<password>'".
    server = Neo4jServer(_settings(tmp_path))
    server.ensure_jars()
    server._write_config()
    server._set_initial_password("-starts-with-a-dash")
    assert (server.home / "data" / "dbms" / "auth.ini").exists()


def test_generated_password_alphanumeric() -> None:
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        assert len(password) == 24
        assert password.isascii()
        assert password.isalnum()
