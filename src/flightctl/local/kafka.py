"""A single-node Apache Kafka broker in KRaft mode, from Maven Central jars cached locally."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

from flightctl import deploy
from flightctl.errors import FlightctlError, PrerequisiteMissing
from flightctl.platform.layout import Home, State


def kafka_version() -> str:
    """The broker version, as the shipped Maven descriptor pins it (deploy/kafka/pom.xml)."""
    found = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", deploy.path("kafka", "pom.xml").read_text())
    if found is None:
        raise FlightctlError("deploy/kafka/pom.xml names no kafka.version")
    return found.group(1)


def jar_dir() -> Path:
    base = Path.home() / ".cache" / "flightctl"
    return base / f"kafka-{kafka_version()}"


def new_cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def ensure_jars(progress: Callable[[str], object] = print) -> Path:
    """Resolve the broker's jars with Maven once; later runs reuse them."""
    target = jar_dir()
    if any(target.glob("kafka_2.13-*.jar")):
        return target
    if shutil.which("mvn") is None:
        raise PrerequisiteMissing("Maven (mvn) is needed to fetch Apache Kafka; install it: apt-get install -y maven")
    if shutil.which("java") is None:
        raise PrerequisiteMissing(
            "Java 17+ is needed to run Apache Kafka; install it: apt-get install -y openjdk-17-jre-headless"
        )
    pom = deploy.path("kafka", "pom.xml")
    progress(f"fetching Apache Kafka {kafka_version()} jars with Maven into {target} (once)")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise FlightctlError("Maven could not fetch Kafka: " + (result.stdout + result.stderr).strip()[-400:])
    partial.rename(target)
    return target


def config_dir(home: Home) -> Path:
    return home.path("kafka")


def write_config(home: Home, state: State) -> Path:
    directory = config_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    ports = state.ports
    properties = directory / "server.properties"
    properties.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{ports.kafka_controller}",
                f"listeners=PLAINTEXT://127.0.0.1:{ports.kafka},CONTROLLER://127.0.0.1:{ports.kafka_controller}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{ports.kafka}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={directory / 'data'}",
                "num.partitions=3",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=10",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "log.retention.hours=168",
                "",
            ]
        )
    )
    (directory / "log4j2.properties").write_text(
        "status = warn\n"
        "appender.console.type = Console\n"
        "appender.console.name = STDOUT\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = warn\n"
        "rootLogger.appenderRef.stdout.ref = STDOUT\n"
        "logger.server.name = kafka.server.KafkaRaftServer\n"
        "logger.server.level = info\n"
    )
    return properties


def java_command(home: Home, main_class: str, *args: str, heap: str = "512m") -> list[str]:
    return [
        shutil.which("java") or "java",
        f"-Xmx{heap}",
        "-Xms128m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={config_dir(home) / 'log4j2.properties'}",
        "-cp",
        f"{jar_dir()}/*",
        main_class,
        *args,
    ]


def format_storage(home: Home, state: State, properties: Path) -> None:
    if (config_dir(home) / "data" / "meta.properties").exists():
        return
    result = subprocess.run(
        java_command(
            home, "kafka.tools.StorageTool", "format", "-t", state.kafka_cluster_id, "-c", str(properties), heap="256m"
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise FlightctlError("Kafka storage format failed: " + (result.stdout + result.stderr).strip()[-400:])


def broker_command(home: Home, properties: Path) -> list[str]:
    return java_command(home, "kafka.Kafka", str(properties))
