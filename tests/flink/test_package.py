"""The application package Managed Service for Apache Flink runs: `make flink-package` and the zip it builds.

The run options name `python=main.py` and `jarfile=lib/pyflink-dependencies.jar`, relative to the zip's root,
and Managed Flink takes exactly one jar. The build is Maven's (functions/flink_app/pom.xml, assembly.xml).
"""

from __future__ import annotations

import ast
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
JOB = REPO / "functions" / "flink_app"
JAR_ENTRY = "lib/pyflink-dependencies.jar"
PACKAGE_FILES = ("pom.xml", "assembly.xml")
# What the Flink runtime provides must not be shaded into the jar (nor the logging the runtime brings).
PROVIDED_PACKAGES = (
    "org/apache/flink/api/",
    "org/apache/flink/core/",
    "org/apache/flink/table/api/",
    "org/apache/flink/table/factories/",
    "org/apache/flink/connector/base/",
    "org/apache/flink/streaming/api/",
    "org/slf4j/",
    "org/apache/logging/log4j/",
    "org/apache/log4j/",
)


def _job_modules() -> list[str]:
    return sorted(path.name for path in JOB.glob("*.py"))


def _maven_package(project: Path, output: Path) -> Path:
    """`mvn package` of a copy of the project, from Maven's local cache, building under `output`: the zip."""
    completed = subprocess.run(
        [
            "mvn", "-B", "-q", "-o", "-f", str(project / "pom.xml"),
            f"-Dtarget.directory={output / 'target'}", f"-Dpackage.directory={output}", "package",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return output / "flink-analytics.zip"


@pytest.fixture(scope="module")
def make_output() -> list[str]:
    """The lines `make flink-package` prints (run as a developer would, from the repository's root)."""
    completed = subprocess.run(
        ["make", "--no-print-directory", "flink-package"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed.stdout.splitlines()


@pytest.fixture(scope="module")
def package(make_output: list[str]) -> zipfile.ZipFile:
    """The zip `make flink-package` built, every entry's CRC checked."""
    archive = zipfile.ZipFile(io.BytesIO(Path(make_output[-1]).read_bytes()))
    assert archive.testzip() is None
    return archive


@pytest.fixture(scope="module")
def jar(package: zipfile.ZipFile) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(package.read(JAR_ENTRY)))


def test_make_prints_the_zip_path_last(make_output: list[str]) -> None:
    assert make_output[-1] == str(REPO / "build" / "flink" / "flink-analytics.zip")
    assert zipfile.is_zipfile(make_output[-1])
    # The deployer function's copy (its own artefact) is the same zip.
    deployer_copy = REPO / "functions" / "flink_deployer" / "application.zip"
    assert deployer_copy.read_bytes() == Path(make_output[-1]).read_bytes()


def test_zip_root_holds_main_and_the_job_modules(package: zipfile.ZipFile) -> None:
    root_files = sorted(name for name in package.namelist() if "/" not in name)
    assert "main.py" in root_files
    assert root_files == _job_modules()
    for name in root_files:
        assert package.read(name) == (JOB / name).read_bytes()


def test_zip_holds_exactly_one_jar_under_lib_and_nothing_else(package: zipfile.ZipFile) -> None:
    files = [name for name in package.namelist() if not name.endswith("/")]
    assert sorted(files) == sorted([*_job_modules(), JAR_ENTRY])
    assert not [name for name in files if "original-" in name or name.endswith(".pyc")]


def test_jar_holds_the_kafka_connector_and_msk_iam_auth(jar: zipfile.ZipFile) -> None:
    names = set(jar.namelist())
    for class_file in (
        "org/apache/flink/streaming/connectors/kafka/table/KafkaDynamicTableFactory.class",
        "org/apache/flink/connector/kafka/source/KafkaSource.class",
        "org/apache/kafka/clients/consumer/KafkaConsumer.class",
        "software/amazon/msk/auth/iam/IAMLoginModule.class",
        "software/amazon/msk/auth/iam/IAMClientCallbackHandler.class",
    ):
        assert class_file in names
    packages = {"org/apache/flink/connector/kafka/", "software/amazon/msk/auth/iam/"}
    assert {p for p in packages if any(n.startswith(p) and n.endswith(".class") for n in names)} == packages


def _services(jar: zipfile.ZipFile) -> dict[str, list[str]]:
    """Each META-INF/services file of the jar: the implementations it lists."""
    services = {}
    for name in jar.namelist():
        if name.startswith("META-INF/services/") and not name.endswith("/"):
            lines = (line.split("#", 1)[0].strip() for line in jar.read(name).decode().splitlines())
            services[name.removeprefix("META-INF/services/")] = [line for line in lines if line]
    return services


def test_kafka_table_factory_is_registered(jar: zipfile.ZipFile) -> None:
    factories = _services(jar)["org.apache.flink.table.factories.Factory"]
    assert "org.apache.flink.streaming.connectors.kafka.table.KafkaDynamicTableFactory" in factories


def test_every_registered_service_is_in_the_jar(jar: zipfile.ZipFile) -> None:
    names = set(jar.namelist())
    missing = {
        service: [impl for impl in impls if impl.replace(".", "/") + ".class" not in names]
        for service, impls in _services(jar).items()
    }
    assert {service: impls for service, impls in missing.items() if impls} == {}


def test_service_files_of_several_jars_are_merged(jar: zipfile.ZipFile) -> None:
    """jackson-datatype-jdk8 and -jsr310 each register a Module: both kept, not the first one alone."""
    modules = _services(jar)["com.fasterxml.jackson.databind.Module"]
    assert "com.fasterxml.jackson.datatype.jdk8.Jdk8Module" in modules
    assert "com.fasterxml.jackson.datatype.jsr310.JavaTimeModule" in modules


def test_runtime_jars_and_signatures_are_not_shaded(jar: zipfile.ZipFile) -> None:
    names = jar.namelist()
    assert [name for name in names if name.startswith(PROVIDED_PACKAGES)] == []
    signature_files = (".SF", ".DSA", ".RSA")
    assert [name for name in names if name.startswith("META-INF/") and name.endswith(signature_files)] == []


def test_the_job_needs_no_python_package_but_pyflink() -> None:
    """Every module the job imports is its own, PyFlink (the runtime's) or the standard library."""
    own = {Path(name).stem for name in _job_modules()}
    imported = set()
    for name in _job_modules():
        for node in ast.walk(ast.parse((JOB / name).read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    assert imported - own - set(sys.stdlib_module_names) == {"pyflink"}


def test_same_sources_give_the_same_zip(make_output: list[str], tmp_path: Path) -> None:
    """Rebuilt from a copy of the job whose files have other times, in other folders: the same bytes."""
    project = tmp_path / "flink_app"
    project.mkdir()
    for name in (*PACKAGE_FILES, *_job_modules()):
        shutil.copyfile(JOB / name, project / name)
        os.utime(project / name, (946_684_800, 946_684_800))  # 2000-01-01
    rebuilt = _maven_package(project, tmp_path / "package")
    assert rebuilt.read_bytes() == Path(make_output[-1]).read_bytes()
