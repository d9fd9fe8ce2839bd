"""No secret value is committed under deploy/k8s: Secrets come from git-ignored files or a store."""
from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from footfall.config import SECRETS, MissingSecret, Settings, require_secrets
from footfall.secretfile import complete, read_env_file
from tests.deploy.manifests import (
    DEPLOY,
    K8S,
    ROOT,
    load_yaml,
    procfile_processes,
    render,
    render_overlays,
)

pytestmark = pytest.mark.unit

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
    tracked = subprocess.run(["git", "ls-files", "deploy"], cwd=ROOT,
                             capture_output=True, text=True, check=False).stdout
    assert not [f for f in tracked.split() if f.endswith(("secrets.env", ".pem", ".key"))]


def _secret_env(objects: list[dict]) -> dict[str, str]:
    """The variables the Secret footfall-secrets gives every pod (decoded)."""
    (secret,) = [o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"].startswith("footfall-secrets")]
    return {key: base64.b64decode(value).decode() for key, value in secret.get("data", {}).items()}


def test_every_overlay_provides_each_required_secret_and_the_dev_example_alone_is_refused(tmp_path):
    """The attack: the dev overlay's example left REPLAY_TOKEN_SECRET empty (an empty HMAC key)
    and compose never set it, so the built-in default signed tokens. Now: prod maps each required
    secret from the secret manager; dev's secrets.env, made by `make k8s-dev-secrets`, carries
    generated values; the example by itself yields nothing a process accepts."""
    required = {variable for variable, _ in SECRETS.values()}
    external = yaml.safe_load((K8S / "overlays/prod/external-secret.yaml").read_text())
    assert required <= {item["secretKey"] for item in external["spec"]["data"]}

    rendered = render_overlays(tmp_path / "generated")
    dev = _secret_env(rendered["dev"])
    assert required <= set(dev)
    settings = Settings().with_(replay_token_secrets=(dev["REPLAY_TOKEN_SECRETS"],),
                                service_tokens=(dev["SERVICE_TOKENS"],))
    require_secrets(settings, *SECRETS)  # long enough

    tree = tmp_path / "example-only"
    shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("secrets.env"))
    shutil.copy(tree / "overlays/dev/secrets.env.example", tree / "overlays/dev/secrets.env")
    bare = _secret_env(render(tree / "overlays/dev"))
    for name, (variable, _) in SECRETS.items():
        values = tuple(v for v in bare.get(variable, "").split(",") if v)
        with pytest.raises(MissingSecret, match=variable):
            require_secrets(Settings().with_(**{name: values}), name)


def test_compose_ships_no_secret_and_generates_them_once(tmp_path):
    compose = load_yaml(DEPLOY / "compose.yaml")
    text = (DEPLOY / "compose.yaml").read_text()
    for variable, _ in SECRETS.values():
        assert variable not in text, f"{variable} must come from the generated file, not compose.yaml"
    assert "footfall-dev-only" not in text and "AWS_SECRET_ACCESS_KEY:" not in text
    generator = compose["services"]["secrets"]
    (path,) = [word for word in generator["command"] if word.startswith("/secrets/")]
    for name in procfile_processes():
        service = compose["services"][name]
        assert service["depends_on"]["secrets"]["condition"] == "service_completed_successfully", name
        mounted = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
        file = service["environment"]["FOOTFALL_SECRETS_FILE"]
        assert mounted[str(Path(file).parent)] == generator["volumes"][0].split(":")[0], name
        assert Path(file).name == Path(path).name, name
    # What the generator writes there: every required secret, and the S3 password MinIO shares.
    argv = [word.replace(path, str(tmp_path / "footfall.env")) for word in generator["command"][3:]]
    complete(tmp_path / "footfall.env", also=tuple(argv[i + 1] for i, w in enumerate(argv) if w == "--also"))
    written = read_env_file(tmp_path / "footfall.env")
    assert {variable for variable, _ in SECRETS.values()} | {"AWS_SECRET_ACCESS_KEY"} <= set(written)
