"""No secret value is committed under deploy/k8s: Secrets come from git-ignored files or a store."""
from __future__ import annotations

import re
import subprocess

import yaml

from tests.deploy.manifests import K8S, ROOT

# user:password@ in a URL, unless the password is a $(VAR) that Kubernetes fills in from a Secret.
INLINE_CREDENTIALS = re.compile(r"://[^/\s:@$]+:(?!\$\()[^@\s/]+@")


def _manifest_files():
    return sorted(p for p in K8S.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml"))


def test_no_secret_object_or_inline_credential_in_the_manifests():
    for path in _manifest_files():
        text = path.read_text()
        assert not INLINE_CREDENTIALS.search(text), f"{path}: credentials inside a URL"
        for doc in yaml.safe_load_all(text):
            if isinstance(doc, dict):
                assert doc.get("kind") != "Secret", f"{path}: a Secret object is committed"


def test_secret_generators_read_only_git_ignored_files():
    generators = 0
    for path in K8S.rglob("kustomization.yaml"):
        for generator in yaml.safe_load(path.read_text()).get("secretGenerator", []):
            generators += 1
            assert not generator.get("literals"), f"{path}: literal secret values"
            for source in generator.get("envs", []) + generator.get("files", []):
                source_path = path.parent / source.split("=")[-1]
                ignored = subprocess.run(["git", "check-ignore", "-q", str(source_path)], cwd=ROOT, check=False)
                assert ignored.returncode == 0, f"{source_path} must be git-ignored"
                example = source_path.with_name(source_path.name + ".example")
                assert example.exists(), f"{example}: show operators which keys to set"
                for line in example.read_text().splitlines():
                    if line and not line.startswith("#"):
                        key, _, value = line.partition("=")
                        assert not value or not re.search(r"SECRET|PASSWORD|KEY", key), line
                        assert not INLINE_CREDENTIALS.search(value), line
    assert generators, "the dev overlay generates footfall-secrets"


def test_no_secrets_file_is_tracked():
    tracked = subprocess.run(["git", "ls-files", "deploy"], cwd=ROOT, capture_output=True, text=True, check=False).stdout
    assert not [f for f in tracked.split() if f.endswith(("secrets.env", ".pem", ".key"))]
