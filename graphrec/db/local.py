"""A Docker-free Neo4j Community server: jars from Maven Central, a home directory, a background JVM.

`docker/neo4j/pom.xml` pins the version; another can be asked for (`LocalNeo4j(version="2026.08.1",
java=...)`), passed to Maven as `-Dneo4j.version`. The jars are resolved once per version into the cache
directory; a server is a home directory (conf, data, logs, pid file) plus
`java -cp 'lib/*' org.neo4j.server.CommunityEntryPoint`, which is what the distribution's `bin/neo4j console`
runs. Several homes can run side by side on different ports.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from graphrec.config import Settings, package_file
from graphrec.errors import GraphrecError

POM = package_file("db", "pom.xml")
"""The Maven project pinning the server (`docker/neo4j/pom.xml` in the source tree, shipped in the wheel)."""
MAIN_CLASS = "org.neo4j.server.CommunityEntryPoint"
"""The 5.26 server's main class; later versions renamed it (2026.x: `Neo4jCommunity`), see `main_class`."""
ENTRY_POINT_SERVICE = "META-INF/services/org.neo4j.server.startup.EntryPoint"
ADMIN_CLASS = "org.neo4j.cli.AdminTool"
SUPPORTED_JAVA = (17, 21)
"""The Java versions Neo4j 5.26 runs on."""
CALVER_JAVA = (21, 25)
"""The Java versions calendar-versioned Neo4j (2025.01 and later) runs on."""
SHUTDOWN_WAITS = {"internal.dbms.bolt.netty_server_shutdown_quiet_period": "0"}
"""Bolt's shutdown quiet period: 5 s by default, waited twice (its two Netty event-loop groups) after the
databases have checkpointed and stopped, when no client can be served any more. A clean stop of an idle
server took 10.6 s with it and 0.6-0.8 s with 0, on 5.26 and 2026.08 alike (both accept this name)."""
JVM_FLAGS = [  # as Neo4j's own launcher sets them (server.jvm.additional defaults)
    "-XX:+UseG1GC",
    "-XX:+AlwaysPreTouch",  # heap pages touched at start, not as page faults while serving
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
]


class LocalNeo4jError(GraphrecError, RuntimeError):
    """The local server cannot be provisioned, started or stopped; the message says why and what to do."""


def pinned_version(pom: Path = POM) -> str:
    """The Neo4j version pinned in `docker/neo4j/pom.xml`."""
    match = re.search(r"<neo4j\.version>([^<]+)</neo4j\.version>", pom.read_text(encoding="utf-8"))
    if not match:
        raise LocalNeo4jError(f"{pom}: no <neo4j.version> property")
    return match.group(1).strip()


def default_home() -> Path:
    """`$XDG_DATA_HOME/graphrec/neo4j` (by default `~/.local/share/graphrec/neo4j`)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "graphrec" / "neo4j"


def java_executable() -> str:
    """`$JAVA_HOME/bin/java` when set, else `java` on the PATH; a clear error when there is none."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise LocalNeo4jError(
            "no Java found: Neo4j 5.26 needs Java 17 or 21 (install openjdk-17-jre-headless or set JAVA_HOME)"
        )
    return candidate


def java_major_version(java: str) -> int:
    """The major version `java -version` reports (17 for `openjdk version "17.0.15"`)."""
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise LocalNeo4jError(f"cannot tell the version of {java}: {out.stderr.strip()[:200]}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def supported_java(version: str) -> tuple[int, ...]:
    """The Java major versions Neo4j `version` runs on: 17 or 21 for 5.x, 21 or 25 from 2025.01."""
    return CALVER_JAVA if int(version.split(".", maxsplit=1)[0]) >= 2025 else SUPPORTED_JAVA


def check_java(java: str | None = None, version: str | None = None) -> str:
    """The Java executable to run Neo4j `version` (default: the pinned one) with, its version checked.

    `java` is an explicit executable; without it, `$JAVA_HOME/bin/java` or `java` on the PATH.
    """
    version = version or pinned_version()
    java = java or java_executable()
    major = java_major_version(java)
    supported = supported_java(version)
    if major not in supported:
        series = ".".join(version.split(".")[:2])
        wanted = " or ".join(str(n) for n in supported)
        raise LocalNeo4jError(
            f"{java} is Java {major}; Neo4j {series} runs on Java {wanted}: set JAVA_HOME to one of those"
        )
    return java


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on `host:port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ensure_jars(
    cache_dir: Path, pom: Path = POM, log: Callable[[str], None] = print, version: str | None = None
) -> Path:
    """The folder of the server's jars (`version`, default the pinned one), resolved once into the cache."""
    version = version or pinned_version(pom)
    lib = cache_dir / f"neo4j-{version}" / "lib"
    if lib.is_dir() and any(lib.glob("neo4j-kernel-*.jar")):
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalNeo4jError(
            "Maven (`mvn`) is needed once to fetch the Neo4j server jars: install it (apt-get install maven)"
        )
    lib.parent.mkdir(parents=True, exist_ok=True)
    log(f"Fetching Neo4j Community {version} from Maven Central into {lib} (once) ...")
    staging = Path(tempfile.mkdtemp(prefix="lib-", dir=lib.parent))
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
        f"-Dneo4j.version={version}",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not any(staging.glob("neo4j-kernel-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        tail = (done.stdout + done.stderr).strip()[-2000:]
        raise LocalNeo4jError(f"Maven could not resolve Neo4j {version} (exit {done.returncode}):\n{tail}")
    shutil.rmtree(lib, ignore_errors=True)
    staging.rename(lib)  # atomic: a half-downloaded folder is never taken for a complete one
    return lib


def main_class(lib: Path) -> str:
    """The server's main class, as the `org.neo4j:neo4j` jar in `lib` declares its entry point service.

    5.26 declares `org.neo4j.server.CommunityEntryPoint`, 2026.x `org.neo4j.server.Neo4jCommunity`;
    `MAIN_CLASS` when no jar declares one.
    """
    for jar in sorted(lib.glob("neo4j-[0-9]*.jar")):
        with zipfile.ZipFile(jar) as archive:
            if ENTRY_POINT_SERVICE in archive.namelist():
                for line in archive.read(ENTRY_POINT_SERVICE).decode().splitlines():
                    if line.strip() and not line.startswith("#"):
                        return line.strip()
    return MAIN_CLASS


@dataclass
class LocalNeo4j:
    """One server home: where its conf, data, logs and pid file live, and how to run it."""

    home: Path
    port: int = 7687
    password: str = "graphrec-dev"
    cache_dir: Path = field(default_factory=lambda: Settings().cache_dir)
    heap: str = "1g"
    """JVM heap (initial = maximum, so the server never pauses to grow it)."""
    pagecache: str = "512m"
    extra_conf: dict[str, str] = field(default_factory=dict)
    version: str | None = None
    """The Neo4j version to run; None: the one `docker/neo4j/pom.xml` pins."""
    java: str | None = None
    """The Java executable; None: `$JAVA_HOME/bin/java`, else `java` on the PATH."""

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        home: Path | None = None,
        port: int | None = None,
        heap: str | None = None,
        pagecache: str | None = None,
    ) -> LocalNeo4j:
        """The server described by `settings`: port from `--port` or a loopback `NEO4J_URI`."""
        if port is None:
            port = settings.bolt_host_port[1] if settings.uri_is_loopback else 7687
        return cls(
            home=(home or settings.neo4j_home or default_home()).expanduser().resolve(),
            port=port,
            password=settings.neo4j_password.get_secret_value(),
            cache_dir=settings.cache_dir,
            heap=heap or cls.heap,
            pagecache=pagecache or cls.pagecache,
        )

    @property
    def conf_dir(self) -> Path:
        """The folder holding `neo4j.conf`."""
        return self.home / "conf"

    @property
    def data_dir(self) -> Path:
        """The folder holding the databases."""
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        """The server's console output (stdout and stderr of the JVM)."""
        return self.home / "logs" / "console.log"

    @property
    def pid_file(self) -> Path:
        """Holds the JVM's pid while the server runs."""
        return self.home / "run" / "neo4j.pid"

    @property
    def uri(self) -> str:
        """The Bolt URI clients use."""
        return f"bolt://127.0.0.1:{self.port}"

    def write_conf(self) -> Path:
        """Write `conf/neo4j.conf`: loopback Bolt on `port`, no HTTP, memory sized for a small machine."""
        conf = {
            "server.default_listen_address": "127.0.0.1",
            "server.bolt.listen_address": f"127.0.0.1:{self.port}",
            "server.bolt.advertised_address": f"127.0.0.1:{self.port}",
            "server.http.enabled": "false",
            "server.https.enabled": "false",
            "server.directories.data": str(self.data_dir),
            "server.directories.logs": str(self.home / "logs"),
            "server.directories.run": str(self.home / "run"),
            "server.directories.import": str(self.home / "import"),
            "server.memory.heap.initial_size": self.heap,
            "server.memory.heap.max_size": self.heap,
            "server.memory.pagecache.size": self.pagecache,
            "dbms.security.auth_enabled": "true",
            "dbms.usage_report.enabled": "false",
            "db.tx_log.rotation.retention_policy": "2 files",
            **SHUTDOWN_WAITS,
        } | self.extra_conf
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        path = self.conf_dir / "neo4j.conf"
        lines = ["# Written by graphrec (graphrec/db/local.py); edits are overwritten on start."]
        lines += [f"{key}={value}" for key, value in conf.items()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def configured_port(self) -> int | None:
        """The Bolt port recorded in this home's `neo4j.conf`, if it has one."""
        path = self.conf_dir / "neo4j.conf"
        if not path.is_file():
            return None
        match = re.search(r"^server\.bolt\.listen_address=.*:(\d+)$", path.read_text(), re.MULTILINE)
        return int(match.group(1)) if match else None

    def running_pid(self) -> int | None:
        """The pid of this home's server if it runs; a stale pid file is removed (and reported)."""
        if not self.pid_file.is_file():
            return None
        text = self.pid_file.read_text().strip()
        pid = int(text) if text.isdigit() else -1
        if pid > 0 and _pid_alive(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def _env(self) -> dict[str, str]:
        return os.environ | {"NEO4J_HOME": str(self.home), "NEO4J_CONF": str(self.conf_dir)}

    def _set_initial_password(self, java: str, lib: Path) -> None:
        if (self.data_dir / "dbms" / "auth.ini").exists() or (
            self.data_dir / "databases" / "system"
        ).exists():
            return
        cmd = [java, "-cp", f"{lib}/*", ADMIN_CLASS, "dbms", "set-initial-password", self.password]
        done = subprocess.run(cmd, capture_output=True, text=True, env=self._env(), check=False)
        if done.returncode != 0:
            reason = _java_error_summary(done.stdout + done.stderr)
            conf = self.conf_dir / "neo4j.conf"
            raise LocalNeo4jError(f"preparing {self.home} failed (check {conf}): {reason}")

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the console log and `neo4j.log`, for error messages."""
        out = []
        for path in (self.log_file, self.home / "logs" / "neo4j.log"):
            if path.is_file():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {path} ---\n" + "\n".join(tail))
        return "\n".join(out) or "(no log written)"

    def start(self, timeout: float = 120.0, log: Callable[[str], None] = print) -> int:
        """Start the server in the background and wait until Bolt accepts a login; returns its pid."""
        pid = self.running_pid()
        if pid is not None:
            if self.configured_port() == self.port:
                return pid
            raise LocalNeo4jError(
                f"a server already runs from {self.home} (pid {pid}) on port {self.configured_port()}; "
                f"stop it first or use another --home"
            )
        if port_in_use(self.port):
            raise LocalNeo4jError(
                f"port {self.port} is in use by another process: pick another with --port or NEO4J_URI"
            )
        java = check_java(self.java, self.version)
        lib = ensure_jars(self.cache_dir, log=log, version=self.version)
        for sub in ("data", "logs", "run", "import", "plugins"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        self.write_conf()
        self._set_initial_password(java, lib)
        cmd = [
            java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            *JVM_FLAGS,
            "-cp",
            f"{lib}/*:{self.home}/plugins/*",
            main_class(lib),
            f"--home-dir={self.home}",
            f"--config-dir={self.conf_dir}",
        ]
        with self.log_file.open("ab") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._env(),
                start_new_session=True,
                cwd=self.home,
            )
        self.pid_file.write_text(str(proc.pid))
        self._wait_until_ready(proc, timeout)
        return proc.pid

    def _wait_until_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        from neo4j import GraphDatabase
        from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                tail = self.log_tail()
                raise LocalNeo4jError(
                    f"Neo4j exited with code {proc.returncode} while starting: "
                    f"{_java_error_summary(tail)}\n{tail}"
                )
            try:
                with GraphDatabase.driver(self.uri, auth=("neo4j", self.password)) as driver:
                    driver.verify_connectivity()
                    return
            except AuthError as exc:
                raise LocalNeo4jError(
                    f"Neo4j at {self.uri} is up but refused the password: this home ({self.home}) was "
                    f"created with another NEO4J_PASSWORD; use that, or a fresh --home"
                ) from exc
            except (ServiceUnavailable, Neo4jError, OSError):
                time.sleep(0.5)
        self.stop()
        raise LocalNeo4jError(f"Neo4j did not accept Bolt logins within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the server cleanly (SIGTERM, then SIGKILL after `timeout`); False when none was running."""
        pid = self.running_pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.2)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> dict[str, object]:
        """Whether the server runs, with its pid, port, version and data directory."""
        pid = self.running_pid()
        return {
            "running": pid is not None,
            "pid": pid,
            "port": self.configured_port() or self.port,
            "uri": f"bolt://127.0.0.1:{self.configured_port() or self.port}",
            "version": self.version or pinned_version(),
            "home": str(self.home),
            "data_dir": str(self.data_dir),
            "log_file": str(self.log_file),
        }


def _java_error_summary(output: str) -> str:
    """The most telling line of a Java stack trace: the last `Caused by:`, else the first line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    causes = [line.removeprefix("Caused by: ") for line in lines if line.startswith("Caused by:")]
    return causes[-1] if causes else (lines[0] if lines else "no output")


def _reap(pid: int) -> None:
    """Collect a child's exit status if it is ours, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
