#!/usr/bin/python3
"""Cross-checks the deployment files, since Docker and Kubernetes cannot run here.

Each check_* function returns a list of problems (empty: fine). The tests run
them on the real files, and on deliberately broken copies to prove each check
can fail.
"""
import copy
import re
import shlex
import sys
import unittest
from pathlib import Path
from urllib.parse import urlparse

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "deploy/compose/docker-compose.yaml"
COLLECTOR = REPO / "deploy/compose/otel-collector.yaml"
DAEMONSET = REPO / "deploy/kubernetes/weft-daemonset.yaml"
SHOP = REPO / "examples/shop"
SHOP_SERVICES = ["store-fe", "catalog", "stock", "auth"]
JAEGER_OTLP_GRPC_PORT = 4317

PORT_ENV = re.compile(r'os\.environ\.get\("(\w+_PORT)",\s*"(\d+)"\)')


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def shop_port_setting(script):
    """(environment variable, default port) the script listens on."""
    match = PORT_ENV.search((SHOP / script).read_text(encoding="utf-8"))
    if not match:
        raise AssertionError(f"{script}: no os.environ.get(\"..._PORT\", \"N\") found")
    return match.group(1), int(match.group(2))


def as_list(value):
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else list(value)


def environment(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def depends_on(service):
    deps = service.get("depends_on") or []
    return list(deps.keys()) if isinstance(deps, dict) else list(deps)


def shop_script(service):
    """The examples/shop script a compose service runs, or None."""
    for arg in as_list(service.get("command")):
        if arg.endswith(".py"):
            return Path(arg).name
    return None


def listening_ports(compose, collector):
    """Service name -> set of ports it listens on inside the compose network."""
    ports = {}
    for name, service in compose["services"].items():
        script = shop_script(service)
        if script:
            variable, default = shop_port_setting(script)
            ports[name] = {int(environment(service).get(variable, default))}
        image = service.get("image", "")
        if image.startswith("jaegertracing/all-in-one"):
            ports[name] = {JAEGER_OTLP_GRPC_PORT, 16686, 4318}
        if image.startswith("otel/opentelemetry-collector"):
            ports[name] = set(collector_receiver_ports(collector).values())
    return ports


def collector_receiver_ports(collector):
    """Protocol ("grpc", "http") -> port of the collector's otlp receiver."""
    protocols = (collector.get("receivers", {}).get("otlp") or {}).get("protocols") or {}
    ports = {}
    for protocol, settings in protocols.items():
        endpoint = (settings or {}).get("endpoint", "")
        default = {"grpc": 4317, "http": 4318}.get(protocol)
        ports[protocol] = int(endpoint.rsplit(":", 1)[1]) if ":" in endpoint else default
    return ports


def check_compose_references(compose, collector):
    problems = []
    services = compose.get("services", {})
    for required in SHOP_SERVICES + ["weft", "otel-collector", "jaeger"]:
        if required not in services:
            problems.append(f"compose: no service {required}")
    ports = listening_ports(compose, collector)
    for name, service in services.items():
        for dependency in depends_on(service):
            if dependency not in services:
                problems.append(f"compose: {name} depends on unknown service {dependency}")
        for variable, value in environment(service).items():
            if not value.startswith("http://"):
                continue
            url = urlparse(value)
            if url.hostname not in services:
                problems.append(f"compose: {name}.{variable} names unknown host {url.hostname}")
                continue
            if url.port not in ports.get(url.hostname, set()):
                problems.append(f"compose: {name}.{variable} uses port {url.port}, but "
                                f"{url.hostname} listens on {sorted(ports.get(url.hostname, []))}")
    return problems


def check_shop_services(compose):
    problems = []
    services = compose.get("services", {})
    for name in SHOP_SERVICES:
        service = services.get(name, {})
        script = shop_script(service)
        # weft names a service after its script: the file must carry the name.
        if script != f"{name}.py":
            problems.append(f"compose: {name} runs {script}, expected {name}.py")
        elif not (SHOP / script).exists():
            problems.append(f"compose: {name} runs {script}, missing from examples/shop")
        if "OTEL_SERVICE_NAME" in environment(service):
            problems.append(f"compose: {name} sets OTEL_SERVICE_NAME; weft derives it")
        dockerfile = (service.get("build") or {}).get("dockerfile")
        if dockerfile and not (REPO / dockerfile).exists():
            problems.append(f"compose: {name} builds from missing {dockerfile}")
    return problems


def check_weft_service(compose, collector):
    problems = []
    services = compose.get("services", {})
    weft = services.get("weft", {})
    if weft.get("privileged") is not True:
        problems.append("compose: weft is not privileged")
    if weft.get("pid") != "host":
        problems.append("compose: weft does not run with pid: host")
    dockerfile = (weft.get("build") or {}).get("dockerfile", "")
    if not dockerfile or not (REPO / dockerfile).exists():
        problems.append(f"compose: weft's Dockerfile {dockerfile!r} does not exist")
    mounts = [str(v).split(":")[0] for v in weft.get("volumes", [])]
    for needed in ["/sys/kernel/btf", "/sys/fs/cgroup"]:
        if needed not in mounts:
            problems.append(f"compose: weft does not mount {needed}")

    env = environment(weft)
    endpoint = urlparse(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", ""))
    collector_names = [n for n, s in services.items()
                       if s.get("image", "").startswith("otel/opentelemetry-collector")]
    if endpoint.hostname not in collector_names:
        problems.append(f"compose: weft exports to {endpoint.hostname}, not to the collector "
                        f"{collector_names}")
    protocol = env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    expected_port = collector_receiver_ports(collector).get(
        "grpc" if protocol == "grpc" else "http")
    if endpoint.port != expected_port:
        problems.append(f"compose: weft exports {protocol} to port {endpoint.port}, the "
                        f"collector's {protocol} receiver listens on {expected_port}")

    commands = {name: " ".join(as_list(s.get("command"))) for name, s in services.items()}
    targets = env.get("WEFT_TARGETS", "").split()
    if not targets:
        problems.append("compose: weft has no WEFT_TARGETS")
    for pattern in targets:
        matched = [n for n in SHOP_SERVICES if re.search(pattern, commands.get(n, ""))]
        if len(matched) != 1:
            problems.append(f"compose: WEFT_TARGETS pattern {pattern!r} matches {matched}, "
                            "expected exactly one shop service")
    return problems


def check_collector(collector, compose):
    problems = []
    ports = collector_receiver_ports(collector)
    if ports.get("grpc") != 4317 or ports.get("http") != 4318:
        problems.append(f"collector: otlp receiver ports are {ports}, expected grpc 4317 and "
                        "http 4318")
    pipeline = ((collector.get("service") or {}).get("pipelines") or {}).get("traces")
    if not pipeline:
        return problems + ["collector: no traces pipeline"]
    for section in ["receivers", "processors", "exporters"]:
        for component in pipeline.get(section, []):
            if component not in (collector.get(section) or {}):
                problems.append(f"collector: pipeline uses undefined {section[:-1]} {component}")
    if "otlp" not in pipeline.get("receivers", []):
        problems.append("collector: traces pipeline does not receive otlp")
    services = compose.get("services", {})
    to_jaeger = False
    for exporter in pipeline.get("exporters", []):
        endpoint = str((collector.get("exporters", {}).get(exporter) or {}).get("endpoint", ""))
        host, _, port = endpoint.removeprefix("http://").partition(":")
        service = services.get(host, {})
        if service.get("image", "").startswith("jaegertracing/all-in-one"):
            to_jaeger = (port == str(JAEGER_OTLP_GRPC_PORT) and
                         environment(service).get("COLLECTOR_OTLP_ENABLED") == "true")
    if not to_jaeger:
        problems.append("collector: traces pipeline does not export OTLP to the jaeger service "
                        f"on {JAEGER_OTLP_GRPC_PORT} with COLLECTOR_OTLP_ENABLED")
    return problems


def check_daemonset(documents):
    problems = []
    daemonsets = [d for d in documents if d and d.get("kind") == "DaemonSet"]
    if len(daemonsets) != 1:
        return [f"daemonset: expected one DaemonSet, found {len(daemonsets)}"]
    daemonset = daemonsets[0]
    spec = daemonset.get("spec", {})
    template = spec.get("template", {})
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector or any(labels.get(k) != v for k, v in selector.items()):
        problems.append("daemonset: selector does not match the pod template's labels")
    pod = template.get("spec", {})
    if pod.get("hostPID") is not True:
        problems.append("daemonset: hostPID is not true")
    containers = pod.get("containers") or []
    if len(containers) != 1:
        return problems + ["daemonset: expected one container"]
    container = containers[0]
    if (container.get("securityContext") or {}).get("privileged") is not True:
        problems.append("daemonset: container is not privileged")
    env = {e["name"]: e for e in container.get("env", [])}
    for needed in ["OTEL_EXPORTER_OTLP_ENDPOINT", "WEFT_TARGETS"]:
        if needed not in env:
            problems.append(f"daemonset: no {needed} in env")
    # $(VAR) references must name a variable defined earlier in the list.
    names = [e["name"] for e in container.get("env", [])]
    for index, entry in enumerate(container.get("env", [])):
        for ref in re.findall(r"\$\((\w+)\)", str(entry.get("value", ""))):
            if ref not in names[:index]:
                problems.append(f"daemonset: {entry['name']} uses $({ref}) before it is defined")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["name"]: m for m in container.get("volumeMounts", [])}
    for name in mounts:
        if name not in volumes:
            problems.append(f"daemonset: mount {name} has no volume")
    mounted_paths = {m["mountPath"] for m in mounts.values()}
    for needed in ["/sys/kernel/btf", "/sys/fs/cgroup"]:
        if needed not in mounted_paths:
            problems.append(f"daemonset: {needed} is not mounted")
    return problems


def check_dockerfiles():
    problems = []
    for name in ["Dockerfile", "shop.Dockerfile"]:
        path = REPO / "deploy/docker" / name
        if not path.exists():
            problems.append(f"docker: {path} missing")
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        bases = [l.split()[1] for l in lines if l.startswith("FROM ")]
        if not bases or not all(b.startswith("debian:12") for b in bases):
            problems.append(f"docker: {name} is not built on Debian 12: {bases}")
        for line in lines:
            parts = line.split()
            if parts[:1] == ["COPY"] and not any(p.startswith("--from") for p in parts):
                for source in parts[1:-1]:
                    if not (REPO / source).exists():
                        problems.append(f"docker: {name} copies missing {source}")
    entrypoint = REPO / "deploy/docker/entrypoint.sh"
    if not entrypoint.exists() or not entrypoint.stat().st_mode & 0o111:
        problems.append("docker: deploy/docker/entrypoint.sh missing or not executable")
    return problems


class RealFilesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.compose = load_yaml(COMPOSE)
        cls.collector = load_yaml(COLLECTOR)
        with open(DAEMONSET, encoding="utf-8") as f:
            cls.daemonset = list(yaml.safe_load_all(f))

    def test_compose_references_resolve(self):
        self.assertEqual(check_compose_references(self.compose, self.collector), [])

    def test_shop_services_run_the_named_scripts(self):
        self.assertEqual(check_shop_services(self.compose), [])

    def test_weft_service_is_privileged_and_exports_to_collector(self):
        self.assertEqual(check_weft_service(self.compose, self.collector), [])

    def test_collector_pipeline_exports_to_jaeger(self):
        self.assertEqual(check_collector(self.collector, self.compose), [])

    def test_daemonset_structure(self):
        self.assertEqual(check_daemonset(self.daemonset), [])

    def test_dockerfiles(self):
        self.assertEqual(check_dockerfiles(), [])

    def test_shop_defaults_match_run_sh(self):
        run_sh = (SHOP / "run.sh").read_text(encoding="utf-8")
        for name in SHOP_SERVICES:
            variable, default = shop_port_setting(f"{name}.py")
            self.assertIn(f"{variable}=${{{variable}:-{default}}}", run_sh)


class BrokenFilesTest(unittest.TestCase):
    """Each check must notice the mistake it exists for."""

    @classmethod
    def setUpClass(cls):
        cls.compose = load_yaml(COMPOSE)
        cls.collector = load_yaml(COLLECTOR)
        with open(DAEMONSET, encoding="utf-8") as f:
            cls.daemonset = list(yaml.safe_load_all(f))

    def broken_compose(self):
        return copy.deepcopy(self.compose)

    def test_wrong_downstream_port_is_caught(self):
        compose = self.broken_compose()
        compose["services"]["catalog"]["environment"]["STOCK_URL"] = "http://stock:9999"
        self.assertTrue(check_compose_references(compose, self.collector))

    def test_port_moved_without_moving_urls_is_caught(self):
        compose = self.broken_compose()
        compose["services"]["auth"]["environment"]["AUTH_PORT"] = "9083"
        self.assertTrue(check_compose_references(compose, self.collector))

    def test_unknown_dependency_is_caught(self):
        compose = self.broken_compose()
        compose["services"]["weft"]["depends_on"].append("zipkin")
        self.assertTrue(check_compose_references(compose, self.collector))

    def test_weft_pointing_at_jaeger_directly_is_caught(self):
        compose = self.broken_compose()
        compose["services"]["weft"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] = \
            "http://jaeger:4317"
        self.assertTrue(check_weft_service(compose, self.collector))

    def test_grpc_endpoint_on_http_port_is_caught(self):
        compose = self.broken_compose()
        compose["services"]["weft"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] = \
            "http://otel-collector:4318"
        self.assertTrue(check_weft_service(compose, self.collector))

    def test_unprivileged_weft_is_caught(self):
        compose = self.broken_compose()
        del compose["services"]["weft"]["pid"]
        self.assertTrue(check_weft_service(compose, self.collector))

    def test_misnamed_script_is_caught(self):
        compose = self.broken_compose()
        compose["services"]["store-fe"]["command"] = ["/usr/bin/python3", "/shop/store_fe.py"]
        self.assertTrue(check_shop_services(compose))

    def test_pipeline_without_jaeger_is_caught(self):
        collector = copy.deepcopy(self.collector)
        collector["service"]["pipelines"]["traces"]["exporters"] = ["debug"]
        self.assertTrue(check_collector(collector, self.compose))

    def test_undefined_pipeline_component_is_caught(self):
        collector = copy.deepcopy(self.collector)
        collector["service"]["pipelines"]["traces"]["processors"].append("memory_limiter")
        self.assertTrue(check_collector(collector, self.compose))

    def test_daemonset_without_host_pid_is_caught(self):
        documents = copy.deepcopy(self.daemonset)
        for document in documents:
            if document.get("kind") == "DaemonSet":
                document["spec"]["template"]["spec"]["hostPID"] = False
        self.assertTrue(check_daemonset(documents))

    def test_daemonset_selector_mismatch_is_caught(self):
        documents = copy.deepcopy(self.daemonset)
        for document in documents:
            if document.get("kind") == "DaemonSet":
                document["spec"]["selector"]["matchLabels"] = {"app": "other"}
        self.assertTrue(check_daemonset(documents))


if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False, verbosity=2).result.wasSuccessful() else 1)
