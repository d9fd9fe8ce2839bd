"""The Kubernetes manifests: every overlay renders, validates, and runs each Procfile process safely."""
from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest

from footfall import gunicorn_conf
from footfall.bus import QUEUES
from tests.deploy.manifests import (
    OVERLAYS,
    container,
    load_yaml,
    of_kind,
    procfile_processes,
    render_overlays,
    selects,
)

pytestmark = pytest.mark.unit

CRD_SCHEMAS = Path(__file__).parent / "crd_schemas"
# The oldest Kubernetes we support (native sidecars, PodDisruptionBudget unhealthyPodEvictionPolicy
# are not needed; 1.30 is the oldest release still maintained by major clouds) and the newest.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
RENDERS = ("base", *OVERLAYS)
QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, list[dict]]:
    return render_overlays(tmp_path_factory.mktemp("deploy"))


def _crd_schema(obj: dict) -> dict | None:
    name = f"{obj['apiVersion'].replace('/', '_')}_{obj['kind']}.yaml"
    path = CRD_SCHEMAS / name
    return load_yaml(path) if path.exists() else None


@pytest.mark.parametrize("render", RENDERS)
def test_every_object_validates_against_its_schema(rendered, render):
    errors = []
    for obj in rendered[render]:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        schema = _crd_schema(obj)
        if schema is not None:
            for error in jsonschema.Draft202012Validator(schema).iter_errors(obj):
                errors.append(f"{where}: {error.json_path}: {error.message}")
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                errors.append(f"{where} (Kubernetes {version}): {exc.path}: {exc.message}")
            except kubernetes_validate.SchemaNotFoundError:
                errors.append(f"{where}: no Kubernetes schema and no CRD schema in {CRD_SCHEMAS}")
    assert not errors, "\n".join(errors)


def test_crd_schemas_reject_mistakes():
    """The hand-written CRD schemas catch the usual slips (so a pass above means something)."""
    scaled = load_yaml(CRD_SCHEMAS / "keda.sh_v1alpha1_ScaledObject.yaml")
    good = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "x"},
            "spec": {"scaleTargetRef": {"name": "x"}, "triggers": [{"type": "rabbitmq", "metadata": {
                "protocol": "http", "queueName": "q", "mode": "QueueLength", "value": "100"}}]}}
    validator = jsonschema.Draft202012Validator(scaled)
    assert not list(validator.iter_errors(good))
    trigger = good["spec"]["triggers"][0]["metadata"]
    for slip in ({"value": 100}, {"mode": "Length"}, {"queueLenght": "5"},
                 {"host": "http://user:secret@rabbit:15672/"}, {"mode": "MessageRate", "protocol": "amqp"}):
        bad = {**good, "spec": {**good["spec"], "triggers": [{"type": "rabbitmq", "metadata": {**trigger, **slip}}]}}
        assert list(validator.iter_errors(bad)), slip


@pytest.mark.parametrize("render", RENDERS)
def test_every_procfile_process_has_a_deployment_running_its_command(rendered, render):
    deployments = of_kind(rendered[render], "Deployment")
    processes = procfile_processes()
    assert set(deployments) == set(processes), "Procfile processes and Deployments differ"
    for name, process in processes.items():
        app = container(deployments[name])
        assert app["command"] == process.command, name
        if "BIND" in process.env:  # same port as locally, on every interface
            port = process.env["BIND"].rsplit(":", 1)[1]
            env = {e["name"]: e.get("value") for e in app["env"]}
            assert env["BIND"] == f"0.0.0.0:{port}", name
            assert {"name": "http", "containerPort": int(port)} in app["ports"], name


def _is_http(deployment: dict) -> bool:
    return deployment["metadata"]["labels"]["app.kubernetes.io/component"] == "http"


@pytest.mark.parametrize("render", RENDERS)
def test_every_deployment_is_probed_limited_and_non_root(rendered, render):
    objects = rendered[render]
    pdbs = of_kind(objects, "PodDisruptionBudget").values()
    for name, deployment in of_kind(objects, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        app = container(deployment)
        assert "replicas" not in deployment["spec"], f"{name}: the autoscaler owns replicas"
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert probe in app, f"{name} lacks {probe}"
        if _is_http(deployment):
            assert app["readinessProbe"]["httpGet"]["path"] == "/readyz", name
            assert app["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            assert app["livenessProbe"]["failureThreshold"] > app["readinessProbe"]["failureThreshold"]
        else:  # consumers: their monitor on the metrics port (footfall/consumer_health.py)
            assert {"name": "metrics", "containerPort": 9100} in app["ports"], name
            assert app["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}, name
            assert app["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}, name
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(app["resources"][kind]), f"{name} {kind}"
            for quantity in app["resources"][kind].values():  # the schemas take any string
                assert QUANTITY.fullmatch(str(quantity)), f"{name} {kind}: {quantity}"
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert app["securityContext"] == {"allowPrivilegeEscalation": False,
                                          "readOnlyRootFilesystem": True,
                                          "capabilities": {"drop": ["ALL"]}}, name
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in app["volumeMounts"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], f"{name}: /tmp must be a writable emptyDir"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [p for p in pdbs if selects(p["spec"]["selector"], labels)]
        assert len(covering) == 1, f"{name} needs exactly one PodDisruptionBudget"


@pytest.mark.parametrize("render", RENDERS)
def test_http_services_drain_before_gunicorn_stops_within_the_grace_period(rendered, render):
    for name, deployment in of_kind(rendered[render], "Deployment").items():
        if not _is_http(deployment):
            continue
        app = container(deployment)
        script = app["lifecycle"]["preStop"]["exec"]["command"][-1]
        assert 'touch "$DRAIN_FILE"' in script, name  # /readyz fails from now on
        sleep = int(re.search(r"sleep (\d+)", script).group(1))
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert sleep >= 5 and sleep + gunicorn_conf.graceful_timeout < grace, name


@pytest.mark.parametrize("render", RENDERS)
def test_http_services_have_a_service_and_a_cpu_autoscaler(rendered, render):
    objects = rendered[render]
    services, hpas = of_kind(objects, "Service"), of_kind(objects, "HorizontalPodAutoscaler")
    for name, deployment in of_kind(objects, "Deployment").items():
        if not _is_http(deployment):
            assert name not in hpas, f"{name}: consumers scale with KEDA, not CPU"
            continue
        service = services[name]
        assert selects({"matchLabels": service["spec"]["selector"]},
                       deployment["spec"]["template"]["metadata"]["labels"])
        assert service["spec"]["ports"][0]["targetPort"] == "http"
        hpa = hpas[name]
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"


@pytest.mark.parametrize("render", RENDERS)
def test_each_queue_scales_its_consumer_with_keda(rendered, render):
    objects = rendered[render]
    deployments = of_kind(objects, "Deployment")
    auths = of_kind(objects, "TriggerAuthentication")
    by_queue = {}
    for scaled in of_kind(objects, "ScaledObject").values():
        target = scaled["spec"]["scaleTargetRef"]["name"]
        assert not _is_http(deployments[target]), target
        assert scaled["spec"]["minReplicaCount"] >= 1, f"{target}: keep one consumer warm"
        (trigger,) = scaled["spec"]["triggers"]
        metadata = trigger["metadata"]
        assert trigger["type"] == "rabbitmq" and metadata["mode"] == "QueueLength"
        assert metadata["protocol"] == "http", "only the management API counts unacked messages"
        assert int(metadata["value"]) > 200, "above BUS_PREFETCH, or prefetched messages alone scale up"
        secret_refs = auths[trigger["authenticationRef"]["name"]]["spec"]["secretTargetRef"]
        assert {r["parameter"] for r in secret_refs} == {"username", "password"}
        by_queue[metadata["queueName"]] = target
    consumers = {n for n, d in deployments.items() if not _is_http(d)}
    assert set(by_queue) == set(QUEUES), "one ScaledObject per bus queue"
    assert set(by_queue.values()) == consumers, "every consumer scales on its own queue"


@pytest.mark.parametrize("render", RENDERS)
def test_env_references_are_defined_before_use(rendered, render):
    for obj in rendered[render]:
        if obj["kind"] not in ("Deployment", "Job"):
            continue
        defined = set()
        for env in container(obj).get("env", []):
            for reference in re.findall(r"\$\((\w+)\)", env.get("value", "")):
                assert reference in defined, f"{obj['metadata']['name']}: {env['name']} uses {reference}"
            defined.add(env["name"])


def _backend(ingress: dict, path: str) -> str:
    """The Service an Ingress sends `path` to: Exact first, then the longest Prefix by elements."""
    best, best_length = None, -1
    for http_path in ingress["spec"]["rules"][0]["http"]["paths"]:
        rule, service = http_path["path"], http_path["backend"]["service"]["name"]
        if http_path["pathType"] == "Exact" and path == rule:
            return service
        elements = [e for e in rule.split("/") if e]
        matches = [e for e in path.split("/") if e][: len(elements)] == elements
        if http_path["pathType"] == "Prefix" and matches and len(elements) > best_length:
            best, best_length = service, len(elements)
    return best


@pytest.mark.parametrize("render", RENDERS)
@pytest.mark.parametrize("path,service", [
    ("/v1/batch", "ingest"), ("/v1/track", "ingest"), ("/api/track", "ingest"),
    ("/api/add_user_properties", "ingest"), ("/api/v1/identify", "ingest"),
    ("/sdk.js", "ingest"), ("/sdk-replay.js", "ingest"),
    ("/replay/v1/chunks", "replay-api"),
    ("/replay/v1/start", "gateway"), ("/api/v1/environments/e1/users", "gateway"),
    ("/", "gateway"), ("/login", "gateway"), ("/v10/x", "gateway"),
])
def test_ingress_sends_sdk_paths_to_their_services_and_the_rest_to_the_gateway(rendered, render, path, service):
    objects = rendered[render]
    (ingress,) = of_kind(objects, "Ingress").values()
    assert _backend(ingress, path) == service
    port = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["name"]
    assert port in {p["name"] for p in of_kind(objects, "Service")[service]["spec"]["ports"]}


def _allowed_sources(objects: list[dict], pod_labels: dict) -> list[dict]:
    """Every `from` peer of every NetworkPolicy that selects a pod with these labels."""
    peers, selected = [], False
    for policy in of_kind(objects, "NetworkPolicy").values():
        if selects(policy["spec"]["podSelector"], pod_labels):
            selected = True
            for rule in policy["spec"].get("ingress", []):
                peers.extend(rule.get("from", [{"everyone": True}]))
    assert selected, f"no NetworkPolicy selects {pod_labels}: all traffic allowed"
    return peers


@pytest.mark.parametrize("render", RENDERS)
def test_internal_services_accept_only_the_gateway_and_their_own_consumers(rendered, render):
    objects = rendered[render]
    for name, deployment in of_kind(objects, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        peers = _allowed_sources(objects, labels)
        namespaces = {p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                      for p in peers if "namespaceSelector" in p}
        pods = [p["podSelector"] for p in peers if "podSelector" in p]
        assert all(set(p) in ({"podSelector"}, {"namespaceSelector"}) for p in peers), peers
        if not _is_http(deployment):
            assert namespaces == {"monitoring"} and not pods, f"{name} serves only its metrics"
            continue
        gateway_labels = of_kind(objects, "Deployment")["gateway"]["spec"]["template"]["metadata"]["labels"]
        for selector in pods:  # in-namespace peers: the gateway, or pods of the same service
            same_service = selector.get("matchLabels", {}).get("footfall.io/service") == labels["footfall.io/service"]
            assert same_service or selects(selector, gateway_labels) and selector["matchLabels"] == {
                "app.kubernetes.io/name": "gateway"}, f"{name} accepts {selector}"
        edge = name in ("gateway", "ingest", "replay-api")
        assert namespaces == ({"ingress-nginx", "monitoring"} if edge else {"monitoring"}), name


def test_rabbitmq_is_a_three_node_cluster_in_production(rendered):
    (cluster,) = of_kind(rendered["prod"], "RabbitmqCluster").values()
    assert cluster["spec"]["replicas"] == 3
    assert "password" not in str(cluster).lower()


def test_postgres_is_an_external_endpoint_and_cloudnative_pg_an_option(rendered):
    prod, dev = of_kind(rendered["prod"], "Service")["postgres"], of_kind(rendered["dev"], "Service")["postgres"]
    assert prod["spec"]["type"] == "ExternalName" and not prod["spec"]["externalName"].endswith(".invalid")
    (cnpg,) = of_kind(rendered["dev"], "Cluster").values()
    assert dev["spec"]["externalName"] == f"{cnpg['metadata']['name']}-rw.footfall.svc.cluster.local"
    assert not of_kind(rendered["prod"], "Cluster")


@pytest.mark.parametrize("render", RENDERS)
def test_migrations_run_as_a_job_with_the_same_hardening(rendered, render):
    (job,) = of_kind(rendered[render], "Job").values()
    app = container(job)
    assert app["command"] == ["footfall-migrate"]
    assert app["securityContext"]["readOnlyRootFilesystem"] is True
    assert job["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize("render", RENDERS)
def test_retention_jobs_run_on_a_schedule_with_the_same_hardening(rendered, render):
    crons = of_kind(rendered[render], "CronJob")
    commands = set()
    for cron in crons.values():
        pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        module = pod["containers"][0]["command"][2]
        commands.add(module)
        assert (Path(__file__).resolve().parents[2] / (module.replace(".", "/") + ".py")).exists()
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert commands == {"services.replay.retention", "services.sessions.retention"}


@pytest.mark.parametrize("render", RENDERS)
def test_config_names_only_settings_the_processes_read(rendered, render):
    (config,) = of_kind(rendered[render], "ConfigMap").values()
    sources = "".join((Path(gunicorn_conf.__file__).parent / f).read_text() for f in ("config.py", "gunicorn_conf.py"))
    read = set(re.findall(r"""(?:_env|_int|_list|environ\.get)\(\s*["'](\w+)["']""", sources))
    unknown = {key for key in config["data"] if key not in read and not key.startswith("AWS_")}
    assert not unknown, f"ConfigMap keys no process reads: {unknown}"
    service_urls = {k for k in read if k.endswith("_URL") and k not in ("DATABASE_URL", "AMQP_URL", "REDIS_URL",
                                                                           "S3_ENDPOINT_URL")}
    assert service_urls <= set(config["data"]), "every service address is configured"


@pytest.mark.parametrize("render", RENDERS)
def test_metrics_have_their_own_port_open_to_monitoring_only(rendered, render):
    """The monitoring policy opened every HTTP pod's whole service port, not /metrics: now the
    metrics listener (METRICS_BIND) is a port of its own, and only monitoring may reach it."""
    objects = rendered[render]
    (config,) = of_kind(objects, "ConfigMap").values()
    metrics_port = int(config["data"]["METRICS_BIND"].rsplit(":", 1)[1])
    for name, deployment in of_kind(objects, "Deployment").items():
        if not _is_http(deployment):
            continue
        ports = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
        assert ports["metrics"] == metrics_port and ports["http"] != metrics_port, name
    pods = [d["spec"]["template"]["metadata"]["labels"] for d in of_kind(objects, "Deployment").values()]
    for policy in of_kind(objects, "NetworkPolicy").values():
        if not any(selects(policy["spec"]["podSelector"], labels) for labels in pods):
            continue  # the broker's own policy
        for rule in policy["spec"].get("ingress", []):
            namespaces = {p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                          for p in rule["from"]}
            opened = {p["port"] for p in rule["ports"]}
            assert opened == ({"metrics"} if "monitoring" in namespaces else {"http"}), policy["metadata"]["name"]
    for ingress in of_kind(objects, "Ingress").values():
        for path in ingress["spec"]["rules"][0]["http"]["paths"]:
            assert path["backend"]["service"]["port"]["name"] == "http"
