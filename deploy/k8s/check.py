#!/usr/bin/env python3
"""Offline structural check of the asyncps Kubernetes manifests (no cluster needed).

Renders each kustomization with `kubectl kustomize` and asserts what a cluster would only tell
us at run time: the kinds and names exist, selectors match the pod labels, the Service and the
StatefulSet agree, the worker Job is indexed with as many completions as ASYNCPS_NUM_WORKERS,
replicas equal ASYNCPS_NUM_SHARDS, every pod reads the generated ConfigMap, every container has
resource requests/limits and runs as non-root, the shards have readiness and liveness probes,
the shards serve metrics on one port named by --metrics-bind, the container, the Service and the
prometheus.io annotations, checkpoints live on a per-ordinal PersistentVolumeClaim,
CURVE keys come from one Secret (server key + allow-list on the shards, client key elsewhere).

Usage: deploy/k8s/check.py [KUSTOMIZATION_DIR...]   (default: base and every overlay)
"""
import pathlib
import re
import subprocess
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent


class CheckError(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise CheckError(msg)


def render(path):
    try:
        out = subprocess.run(["kubectl", "kustomize", str(path)], check=True, capture_output=True,
                             text=True, timeout=60)
    except subprocess.CalledProcessError as e:
        raise CheckError(f"kubectl kustomize {path} failed: {e.stderr.strip()}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def one(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    need(len(found) == 1, f"expected exactly one {kind} named {name!r}, found {len(found)}")
    return found[0]


def subset(sel, labels):
    return all(labels.get(k) == v for k, v in sel.items())


def check_pod(owner, pod, configmap_name, extra_volumes=frozenset()):
    spec = pod["spec"]
    sc = spec.get("securityContext", {})
    need(sc.get("runAsNonRoot") is True and sc.get("runAsUser", 0) != 0,
         f"{owner}: pod must run as non-root (securityContext.runAsNonRoot, runAsUser)")
    volumes = {v["name"] for v in spec.get("volumes", [])} | extra_volumes
    for c in spec.get("initContainers", []) + spec["containers"]:
        where = f"{owner} container {c['name']}"
        need(c.get("image"), f"{where}: no image")
        need(c.get("args", [None])[0] == "asyncps-launch", f"{where}: args must start with asyncps-launch")
        res = c.get("resources", {})
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                need(r in res.get(part, {}), f"{where}: resources.{part}.{r} missing")
        refs = [e["configMapRef"]["name"] for e in c.get("envFrom", []) if "configMapRef" in e]
        need(configmap_name in refs, f"{where}: must read ConfigMap {configmap_name} through envFrom (has {refs})")
        for m in c.get("volumeMounts", []):
            need(m["name"] in volumes, f"{where}: mounts undefined volume {m['name']!r}")
    return spec


def check_metrics(template, c, env, ports, svc):
    """The shards' metrics: --metrics-bind, the container port, the Service port and the
    prometheus.io annotations (deploy/prometheus/) all name one port."""
    bind = env.get("ASYNCPS_METRICS_BIND", "")
    need(bind, "shard container: ASYNCPS_METRICS_BIND not set (Prometheus scrapes the shards)")
    port = int(bind.rsplit(":", 1)[1])
    need(ports.get("metrics") == port,
         f"shard containerPort 'metrics' {ports.get('metrics')} != ASYNCPS_METRICS_BIND {bind}")
    svc_ports = {p["name"]: p for p in svc["spec"]["ports"]}
    need("metrics" in svc_ports and svc_ports["metrics"]["port"] == port,
         f"Service shard needs a port 'metrics' = {port} (deploy/prometheus/servicemonitor.yaml scrapes it)")
    ann = template["metadata"].get("annotations", {})
    need(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == str(port) and
         ann.get("prometheus.io/path") == "/metrics",
         f"shard pods need prometheus.io/scrape \"true\", port \"{port}\", path /metrics annotations (have {ann})")


def check(path):
    docs = render(path)
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs)
    cms = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("asyncps-config")]
    need(len(cms) == 1, f"expected one ConfigMap asyncps-config-<hash>, found {len(cms)}")
    cm = cms[0]
    cfg = cm["data"]
    for key in ("ASYNCPS_NUM_SHARDS", "ASYNCPS_NUM_WORKERS", "ASYNCPS_LAUNCH_SERVERS_PATTERN", "ASYNCPS_ALGO",
                "ASYNCPS_BATCH_SIZE", "ASYNCPS_WINDOW", "ASYNCPS_EPOCHS", "ASYNCPS_DATA"):
        need(key in cfg, f"ConfigMap lacks {key}")
    shards, workers = int(cfg["ASYNCPS_NUM_SHARDS"]), int(cfg["ASYNCPS_NUM_WORKERS"])
    ns = {d["metadata"].get("namespace") for d in docs}
    need(len(ns) == 1, f"all objects must share one namespace, found {ns}")

    svc = one(docs, "Service", "shard")
    sts = one(docs, "StatefulSet", "shard")
    wjob = one(docs, "Job", "worker")
    rjob = one(docs, "Job", "report")

    # Shards: headless Service + StatefulSet with stable names shard-<i>.shard
    need(svc["spec"].get("clusterIP") == "None", "Service shard must be headless (clusterIP: None)")
    need(sts["spec"]["serviceName"] == svc["metadata"]["name"], "StatefulSet.serviceName must be the headless Service")
    need(sts["spec"]["replicas"] == shards,
         f"StatefulSet replicas {sts['spec']['replicas']} != ASYNCPS_NUM_SHARDS {shards}")
    tl = sts["spec"]["template"]["metadata"]["labels"]
    need(subset(sts["spec"]["selector"]["matchLabels"], tl), "StatefulSet selector does not match its pod labels")
    need(subset(svc["spec"]["selector"], tl), "Service shard's selector does not select the shard pods")
    for d in docs:
        if d["kind"] in ("Job",):
            need(not subset(svc["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"]),
                 f"Service shard would also select Job {d['metadata']['name']}'s pods")
    claims = {t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates", [])}
    spec = check_pod("StatefulSet shard", sts["spec"]["template"], cm["metadata"]["name"], claims)
    c = spec["containers"][0]
    need(c["args"][1] == "server", "shard container must run asyncps-launch server")
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    need(env.get("ASYNCPS_LAUNCH_INDEX_FROM") == "hostname", "shard index must come from the pod name (hostname)")
    need("readinessProbe" in c and "livenessProbe" in c, "shard container needs readiness and liveness probes")
    if env.get("ASYNCPS_CHECKPOINT_DIR"):
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        need(mounts.get(env["ASYNCPS_CHECKPOINT_DIR"]) in claims,
             "ASYNCPS_CHECKPOINT_DIR must be a per-shard volume (volumeClaimTemplates)")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    sp = svc["spec"]["ports"][0]
    need(sp["targetPort"] in ports or sp["targetPort"] in ports.values(),
         f"Service targetPort {sp['targetPort']} is not a port of the shard container {ports}")
    bind_port = int(env.get("ASYNCPS_BIND", "tcp://*:5555").rsplit(":", 1)[1])
    need(bind_port in ports.values() and sp["port"] == bind_port,
         "shard bind port, containerPort and Service port differ")
    check_metrics(sts["spec"]["template"], c, env, ports, svc)
    pattern = cfg["ASYNCPS_LAUNCH_SERVERS_PATTERN"]
    m = re.fullmatch(r"tcp://([a-z0-9-]+)-\{i\}\.([a-z0-9-]+)(?:\.[a-z0-9.-]+)?:(\d+)", pattern)
    need(m, f"ASYNCPS_LAUNCH_SERVERS_PATTERN {pattern!r} is not tcp://<statefulset>-{{i}}.<service>:<port>")
    need(m.group(1) == sts["metadata"]["name"] and m.group(2) == svc["metadata"]["name"]
         and int(m.group(3)) == sp["port"],
         f"ASYNCPS_LAUNCH_SERVERS_PATTERN {pattern!r} does not name the StatefulSet/Service/port")

    # Workers: indexed Job, completion index = worker index
    ws = wjob["spec"]
    need(ws.get("completionMode") == "Indexed", "worker Job must be completionMode: Indexed")
    need(ws.get("completions") == workers and ws.get("parallelism") == workers,
         f"worker Job completions/parallelism {ws.get('completions')}/{ws.get('parallelism')} "
         f"!= ASYNCPS_NUM_WORKERS {workers}")
    wspec = check_pod("Job worker", ws["template"], cm["metadata"]["name"])
    need(wspec.get("restartPolicy") in ("Never", "OnFailure"), "worker pods need restartPolicy Never/OnFailure")
    wc = wspec["containers"][0]
    need(wc["args"][1] == "worker", "worker container must run asyncps-launch worker")
    wenv = {e["name"]: e.get("value") for e in wc.get("env", [])}
    need(wenv.get("ASYNCPS_LAUNCH_INDEX_FROM") == "job", "worker index must come from JOB_COMPLETION_INDEX (job)")
    need(any(i["args"][1] == "wait-servers" for i in wspec.get("initContainers", [])),
         "worker pods should wait for the shards (init container asyncps-launch wait-servers)")

    # Report
    rspec = check_pod("Job report", rjob["spec"]["template"], cm["metadata"]["name"])
    need(rspec["containers"][0]["args"][1] == "report", "report container must run asyncps-launch report")

    # CURVE: the shard serves with the server secret key and the client allow-list; workers and
    # the report present the client key and trust the server public key; all from one Secret.
    def secret_files(spec, cname, keys):
        vols = {v["name"]: v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
        c = next(c for c in spec["containers"] if c["name"] == cname)
        env = {e["name"]: e.get("value", "") for e in c.get("env", [])}
        mounts = {m["mountPath"]: vols[m["name"]] for m in c.get("volumeMounts", []) if m["name"] in vols}
        out = {}
        for k in keys:
            path = env.get(k, "")
            need(path, f"{cname}: {k} not set (CURVE is on in these manifests)")
            folder, _, name = path.rpartition("/")
            need(folder in mounts, f"{cname}: {k}={path} is not in a mounted Secret ({sorted(mounts)})")
            out[k] = (mounts[folder], name)
        return out

    def secret_items(spec):
        return {i["path"] for v in spec.get("volumes", []) if "secret" in v for i in v["secret"].get("items", [])}
    need(secret_items(spec) == {"server.key", "client.pub"}, "shards must get only server.key and client.pub")
    for cspec, cname in ((wspec, "worker"), (rspec, "report")):
        need(secret_items(cspec) == {"client.key", "server.pub"}, f"{cname} must get only client.key and server.pub")
    sf = secret_files(spec, "shard", ["ASYNCPS_CURVE_SECRET_KEY_FILE", "ASYNCPS_CURVE_ALLOW"])
    for cspec, cname in ((wspec, "worker"), (rspec, "report")):
        cf = secret_files(cspec, cname, ["ASYNCPS_CURVE_SERVER_KEY_FILE", "ASYNCPS_CLIENT_CURVE_SECRET_KEY_FILE"])
        need(cf["ASYNCPS_CURVE_SERVER_KEY_FILE"] == (sf["ASYNCPS_CURVE_SECRET_KEY_FILE"][0], "server.pub") and
             sf["ASYNCPS_CURVE_SECRET_KEY_FILE"][1] == "server.key",
             f"{cname} must trust server.pub, the public half of the shards' server.key (same Secret)")
        need(cf["ASYNCPS_CLIENT_CURVE_SECRET_KEY_FILE"] == (sf["ASYNCPS_CURVE_ALLOW"][0], "client.key") and
             sf["ASYNCPS_CURVE_ALLOW"][1] == "client.pub",
             f"{cname}'s client.key must be the key whose client.pub is the shards' allow-list")

    # NetworkPolicy: shards reachable on their port from the asyncps pods (workers, report)
    pol = one(docs, "NetworkPolicy", "shard")
    need(subset(pol["spec"]["podSelector"]["matchLabels"], tl), "NetworkPolicy shard does not select the shard pods")
    allowed = [p["podSelector"]["matchLabels"] for r in pol["spec"]["ingress"] for p in r.get("from", [])
               if "podSelector" in p]
    for job in (wjob, rjob):
        need(any(subset(a, job["spec"]["template"]["metadata"]["labels"]) for a in allowed),
             f"NetworkPolicy shard does not admit Job {job['metadata']['name']}'s pods")
    pports = {p["port"] for r in pol["spec"]["ingress"] for p in r.get("ports", [])}
    need(sp["port"] in pports, f"NetworkPolicy shard does not open port {sp['port']}")

    # Reports: workers write worker-<i>.json into a shared PVC; the report waits for all of them.
    pvc = one(docs, "PersistentVolumeClaim", "reports")

    def claim_mount(spec, cname):
        vols = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in spec.get("volumes", [])}
        c = next(c for c in spec["containers"] if c["name"] == cname)
        return {m["mountPath"] for m in c.get("volumeMounts", []) if vols.get(m["name"]) == pvc["metadata"]["name"]}
    wm, rm = claim_mount(wspec, "worker"), claim_mount(rspec, "report")
    need(wm and wm == rm, f"worker and report must mount PVC reports at the same path (worker {wm}, report {rm})")
    need(cfg.get("ASYNCPS_WORKER_REPORTS") in wm, f"ASYNCPS_WORKER_REPORTS must be the reports mount {wm}")
    need(int(cfg.get("ASYNCPS_REPORT_WAIT", "0")) > 0,
         "ASYNCPS_REPORT_WAIT must be > 0 (the report waits for the workers)")
    rj = wenv.get("ASYNCPS_REPORT_JSON", "")
    need(rj.startswith(next(iter(wm)) + "/worker-") and "{i}" in rj,
         f"worker ASYNCPS_REPORT_JSON {rj!r} must be <reports mount>/worker-{{i}}.json")

    print(f"ok {path.relative_to(HERE.parent.parent) if path.is_relative_to(HERE.parent.parent) else path}: "
          f"{len(docs)} objects ({', '.join(kinds)}), {shards} shards, {workers} workers")


def main():
    paths = [pathlib.Path(p).resolve() for p in sys.argv[1:]] or \
        [HERE / "base"] + sorted(p.parent for p in (HERE / "overlays").glob("*/kustomization.yaml"))
    failed = 0
    for p in paths:
        try:
            check(p)
        except CheckError as e:
            print(f"FAIL {p}: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
