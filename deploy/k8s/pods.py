#!/usr/bin/env python3
"""Turns the rendered Kubernetes manifests into `docker run` commands that run each pod's
containers the way the kubelet would: same image entrypoint, args, environment (ConfigMap
envFrom + env), user, read-only root filesystem, volume mount paths, pod hostname (shard-<i>)
and DNS name (shard-<i>.shard), JOB_COMPLETION_INDEX for the indexed Job. deploy/test.sh uses it
to run an overlay for real on a docker network, without a cluster.

Usage: deploy/k8s/pods.py KUSTOMIZATION_DIR > pods.sh
The output defines bash functions (they run ${K8S_DOCKER:-docker} and expect $IMAGE, $K8S_NET, $K8S_PREFIX and
$K8S_DATA, the host's data folder for hostPath volumes):
  k8s_shard I | k8s_worker_init I | k8s_worker I | k8s_report_init | k8s_report
each runs its container detached (shard, worker, report) or in
the foreground (init containers); and the variables K8S_SHARDS, K8S_WORKERS and
K8S_<KEY> for each ConfigMap key (K8S_ASYNCPS_EPOCHS, ...), K8S_SECRETS (the Secrets the pods
mount: docker volumes $K8S_PREFIX-secret-<name>, to be filled by the caller).
"""
import shlex
import subprocess
import sys

import yaml


def render(path):
    out = subprocess.run(["kubectl", "kustomize", path], check=True, capture_output=True, text=True, timeout=60)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def find(docs, kind, name):
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def container_args(docs, pod_spec, container, claims, extra_env, hostname=None, alias=None, detach=True):
    cms = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    env = {}
    for src in container.get("envFrom", []):
        env.update(cms[src["configMapRef"]["name"]])
    for e in container.get("env", []):
        env[e["name"]] = e["value"]
    env.update(extra_env)
    sc = {**pod_spec.get("securityContext", {}), **container.get("securityContext", {})}
    args = ["run", "--name", "$K8S_PREFIX-" + (hostname or "NAME"), "--network", "$K8S_NET"]
    args += ["-d"] if detach else ["--rm"]
    if hostname:
        args += ["--hostname", hostname]
    if alias:
        args += ["--network-alias", alias]
    if "runAsUser" in sc:
        args += ["--user", f"{sc['runAsUser']}:{sc.get('runAsGroup', sc['runAsUser'])}"]
    if sc.get("readOnlyRootFilesystem"):
        args += ["--read-only"]
    if sc.get("capabilities", {}).get("drop") == ["ALL"]:
        args += ["--cap-drop", "ALL"]
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    lim = container.get("resources", {}).get("limits", {})
    if "memory" in lim:
        args += ["--memory", lim["memory"].replace("Gi", "g").replace("Mi", "m")]
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    for m in container.get("volumeMounts", []):
        path, ro = m["mountPath"], ":ro" if m.get("readOnly") else ""
        v = volumes.get(m["name"])
        if m["name"] in claims:  # volumeClaimTemplates: one volume per pod
            args += ["-v", f"$K8S_PREFIX-{m['name']}-{hostname}:{path}{ro}"]
        elif v is None:
            raise SystemExit(f"mount {m['name']} has no volume")
        elif "emptyDir" in v:
            args += ["--tmpfs", f"{path}:uid={sc.get('runAsUser', 0)},mode=0755"]
        elif "hostPath" in v:
            args += ["-v", f"$K8S_DATA:{path}{ro}"]
        elif "secret" in v:  # the test fills this docker volume with the Secret's files
            args += ["-v", f"$K8S_PREFIX-secret-{v['secret']['secretName']}:{path}:ro"]
        elif "persistentVolumeClaim" in v:
            args += ["-v", f"$K8S_PREFIX-{v['persistentVolumeClaim']['claimName']}:{path}{ro}"]
        else:
            raise SystemExit(f"volume {m['name']}: unsupported kind {sorted(v)}")
    for k, val in sorted(env.items()):
        args += ["-e", f"{k}={val}"]
    args += ["$IMAGE"] + container.get("command", []) + container.get("args", [])
    return args


def emit(name, argv, index_var=None):
    words = []
    for a in argv:
        if "$K8S_" in a or a == "$IMAGE":
            # variables (prefix, network, data, image) expand at run time; the rest is literal
            a = a.replace("$K8S_PREFIX", "${K8S_PREFIX}").replace("$K8S_NET", "${K8S_NET}") \
                 .replace("$K8S_DATA", "${K8S_DATA}").replace("$IMAGE", "${IMAGE}")
            words.append('"' + a.replace('"', '\\"') + '"')
        else:
            words.append(shlex.quote(a))
    body = " ".join(words)
    if index_var:
        body = body.replace("@@I@@", "${1:?index}")
    print(f'{name}() {{\n  "${{K8S_DOCKER:-docker}}" {body}\n}}')


def main():
    docs = render(sys.argv[1])
    sts = find(docs, "StatefulSet", "shard")
    svc = find(docs, "Service", "shard")
    wjob = find(docs, "Job", "worker")
    rjob = find(docs, "Job", "report")
    claims = {t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates", [])}

    pod = sts["spec"]["template"]["spec"]
    c = pod["containers"][0]
    emit("k8s_shard", container_args(docs, pod, c, claims, {}, hostname=f"{sts['metadata']['name']}-@@I@@",
                                     alias=f"{sts['metadata']['name']}-@@I@@.{svc['metadata']['name']}"), True)

    pod = wjob["spec"]["template"]["spec"]
    init = pod["initContainers"][0]
    emit("k8s_worker_init", container_args(docs, pod, init, set(), {"JOB_COMPLETION_INDEX": "@@I@@"},
                                           hostname="worker-@@I@@-init", detach=False), True)
    emit("k8s_worker", container_args(docs, pod, pod["containers"][0], set(), {"JOB_COMPLETION_INDEX": "@@I@@"},
                                      hostname="worker-@@I@@"), True)

    pod = rjob["spec"]["template"]["spec"]
    emit("k8s_report_init", container_args(docs, pod, pod["initContainers"][0], set(), {},
                                           hostname="report-init", detach=False))
    emit("k8s_report", container_args(docs, pod, pod["containers"][0], set(), {}, hostname="report"))
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("asyncps-config"))
    for k, v in sorted(cm.get("data", {}).items()):
        print(f"K8S_{k}={shlex.quote(v)}")
    print(f"K8S_SHARDS={int(sts['spec']['replicas'])}")
    print(f"K8S_WORKERS={int(wjob['spec']['completions'])}")
    secrets = sorted({v["secret"]["secretName"] for d in (sts, wjob, rjob)
                      for v in d["spec"]["template"]["spec"].get("volumes", []) if "secret" in v})
    print(f"K8S_SECRETS={shlex.quote(' '.join(secrets))}")
    claim = next(v['persistentVolumeClaim']['claimName'] for v in pod['volumes'] if 'persistentVolumeClaim' in v)
    print(f"K8S_REPORTS_CLAIM={shlex.quote(claim)}")


if __name__ == "__main__":
    main()
