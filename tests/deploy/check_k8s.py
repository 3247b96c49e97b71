"""Cross-checks of deploy/k8s/ that the JSON schemas cannot make.

Usage: check_k8s.py DEPLOY_K8S_DIR. Prints every problem and exits 1 if
there is one:
  * every file kustomization.yaml lists exists, and every manifest outside
    ops/, monitoring/, views/ (opt-in components) and secrets.example.yaml
    is listed; every resource a component under views/ lists exists;
  * a view's containers name a definition the image carries
    (ENRICH_VIEW under /usr/share/enrich/views/ is a file of sql/views/)
    and a consumer group of their own (never today's);
  * every ConfigMap and Secret a pod reads is defined (the Secrets in
    secrets.example.yaml);
  * every container has its DSN as ENRICH_PG_DSN or ENRICH_PG_DSN_FILE
    (not both), the file in a volume mounted from a defined Secret whose
    example holds that key;
  * every container's metrics endpoint listens on 0.0.0.0 at the port its
    probes, its prometheus.io/port annotation (required of Deployments)
    and its Service use;
  * probes use /healthz and /readyz only;
  * every container runs enrich-cdc or enrich-processor with a known
    subcommand and sets memory requests and limits;
  * each Deployment has a PodDisruptionBudget selecting its pods.
"""

import os
import sys

import yaml

PORT_OF = {"enrich-cdc": 9187, "enrich-processor": 9188}
SUBCOMMANDS = {"run", "replay", "reconcile", "migrate"}


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def main(k8s_dir):
    problems = []
    docs = {}  # relative path -> documents
    for dirpath, _, files in os.walk(k8s_dir):
        for name in files:
            if name.endswith(".yaml"):
                path = os.path.join(dirpath, name)
                docs[os.path.relpath(path, k8s_dir)] = load_all(path)

    kustomization = docs.pop("kustomization.yaml")[0]
    listed = set(kustomization.get("resources", []))
    for r in sorted(listed):
        if r not in docs:
            problems.append(f"kustomization.yaml lists missing {r}")
    for rel in sorted(docs):
        optional = (rel.startswith(("ops/", "monitoring/", "views/"))
                    or rel == "secrets.example.yaml")
        if not optional and rel not in listed:
            problems.append(f"{rel} is not listed in kustomization.yaml")
    image_names = {i["name"] for i in kustomization.get("images", [])}
    for rel in sorted(docs):
        if not rel.endswith("/kustomization.yaml"):
            continue
        base = os.path.dirname(rel)
        for r in docs.pop(rel)[0].get("resources", []):
            if os.path.join(base, r) not in docs:
                problems.append(f"{rel} lists missing {r}")
    problems += check_views(docs, os.path.dirname(os.path.dirname(
        os.path.abspath(k8s_dir))))

    objects = [(rel, d) for rel, ds in docs.items() for d in ds]
    defined = {(d["kind"], d["metadata"]["name"]) for _, d in objects}
    config_maps = {d["metadata"]["name"]: d.get("data", {})
                   for _, d in objects if d["kind"] == "ConfigMap"}
    secrets = {d["metadata"]["name"]: {**d.get("data", {}),
                                       **d.get("stringData", {})}
               for _, d in objects if d["kind"] == "Secret"}
    services = [d for _, d in objects if d["kind"] == "Service"]
    pdbs = [d for _, d in objects if d["kind"] == "PodDisruptionBudget"]

    for rel, d in objects:
        if d["kind"] not in ("Deployment", "Job"):
            continue
        where = f"{rel} {d['kind']}/{d['metadata']['name']}"
        template = d["spec"]["template"]
        pod = template["spec"]
        annotations = template["metadata"].get("annotations", {})
        labels = template["metadata"].get("labels", {})
        for c in pod["containers"]:
            problems += check_container(where, c, defined, config_maps,
                                        annotations, image_names,
                                        rel in listed)
            problems += check_dsn(where, c, pod, config_maps, secrets)
            problems += check_services(where, c, labels, services)
        if d["kind"] == "Deployment":
            if not any(selects(p["spec"]["selector"], labels) for p in pdbs):
                problems.append(f"{where}: no PodDisruptionBudget selects it")

    for p in problems:
        print(f"check_k8s: {p}", file=sys.stderr)
    return 1 if problems else 0


def check_views(docs, repo_root):
    problems = []
    for rel, ds in docs.items():
        if not rel.startswith("views/"):
            continue
        for d in ds:
            if d["kind"] not in ("Deployment", "Job"):
                continue
            for c in d["spec"]["template"]["spec"]["containers"]:
                env = {e["name"]: e.get("value") for e in c.get("env", [])}
                where = f"{rel} {d['kind']}/{d['metadata']['name']}"
                view = env.get("ENRICH_VIEW") or ""
                prefix = "/usr/share/enrich/views/"
                if not view.startswith(prefix) or not os.path.isfile(
                        os.path.join(repo_root, "sql", "views",
                                     view[len(prefix):])):
                    problems.append(f"{where}: ENRICH_VIEW '{view}' is not "
                                    "a view the image carries")
                group = env.get("ENRICH_GROUP_ID") or ""
                if not group.startswith("enrich-processor."):
                    problems.append(f"{where}: ENRICH_GROUP_ID '{group}' is "
                                    "not a group of its own")
    return problems


def container_env(c, config_maps):
    env = {}
    for source in c.get("envFrom", []):
        env.update(config_maps.get(source["configMapRef"]["name"], {}))
    for e in c.get("env", []):
        env[e["name"]] = e.get("value", "(from valueFrom)")
    return env


def check_dsn(where, c, pod, config_maps, secrets):
    env = container_env(c, config_maps)
    if "ENRICH_PG_DSN" in env and "ENRICH_PG_DSN_FILE" in env:
        return [f"{where}: both ENRICH_PG_DSN and ENRICH_PG_DSN_FILE (the "
                "executables refuse that)"]
    if "ENRICH_PG_DSN" in env:
        return []
    path = env.get("ENRICH_PG_DSN_FILE")
    if path is None:
        return [f"{where}: no ENRICH_PG_DSN or ENRICH_PG_DSN_FILE"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        prefix = m["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        secret = volumes.get(m["name"], {}).get("secret")
        if secret is None:
            return [f"{where}: {path} is not in a Secret volume"]
        name = secret["secretName"]
        if name not in secrets:
            return [f"{where}: Secret {name} is not defined"]
        key = path[len(prefix):]
        if key not in secrets[name]:
            return [f"{where}: Secret {name} has no key {key}"]
        return []
    return [f"{where}: ENRICH_PG_DSN_FILE {path} is in no mounted volume"]


def check_container(where, c, defined, config_maps, annotations, image_names,
                    in_kustomization):
    problems = []
    command = c.get("command", [])
    executable = command[0] if command else ""
    if executable not in PORT_OF:
        return [f"{where}: command {command} runs neither executable"]
    if executable == "enrich-processor" and (len(command) < 2 or
                                             command[1] not in SUBCOMMANDS):
        problems.append(f"{where}: enrich-processor without a subcommand")
    if in_kustomization and c["image"] not in image_names:
        problems.append(f"{where}: image {c['image']} not in images:")
    resources = c.get("resources", {})
    for kind in ("requests", "limits"):
        if "memory" not in resources.get(kind, {}):
            problems.append(f"{where}: no memory {kind}")

    env = {}
    for source in c.get("envFrom", []):
        name = source["configMapRef"]["name"]
        if name not in config_maps:
            problems.append(f"{where}: ConfigMap {name} is not defined")
        else:
            env.update(config_maps[name])
    for e in c.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref and ("Secret", ref["name"]) not in defined:
            problems.append(f"{where}: Secret {ref['name']} is not defined")

    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    serves = executable == "enrich-cdc" or command[1] in ("run", "replay")
    if not serves:
        return problems
    expected = PORT_OF[executable]
    addr = env.get("ENRICH_METRICS_ADDR", "")
    if addr != f"0.0.0.0:{expected}":
        problems.append(f"{where}: ENRICH_METRICS_ADDR is '{addr}', "
                        f"not 0.0.0.0:{expected} (probes and scrapes need it)")
    if ports.get("metrics") != expected:
        problems.append(f"{where}: metrics containerPort is not {expected}")
    scraped = annotations.get("prometheus.io/scrape") == "true"
    if (scraped or "Deployment" in where) and annotations.get(
            "prometheus.io/port") != str(expected):
        problems.append(f"{where}: prometheus.io/port is not {expected}")
    for probe in ("livenessProbe", "readinessProbe"):
        if probe not in c:
            if "Job" not in where:
                problems.append(f"{where}: no {probe}")
            continue
        get = c[probe]["httpGet"]
        if get["path"] not in ("/healthz", "/readyz"):
            problems.append(f"{where}: {probe} on {get['path']}")
        if get["port"] not in ("metrics", expected):
            problems.append(f"{where}: {probe} on port {get['port']}")
    return problems


def check_services(where, c, labels, services):
    problems = []
    for s in services:
        if not selects({"matchLabels": s["spec"]["selector"]}, labels):
            continue
        for port in s["spec"]["ports"]:
            target = port.get("targetPort")
            names = {p["name"] for p in c.get("ports", [])}
            numbers = {p["containerPort"] for p in c.get("ports", [])}
            if target not in names and target not in numbers:
                problems.append(f"{where}: Service {s['metadata']['name']} "
                                f"targets port {port.get('targetPort')}")
    return problems


def selects(selector, labels):
    return all(labels.get(k) == v
               for k, v in selector.get("matchLabels", {}).items())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
