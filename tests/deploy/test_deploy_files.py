"""Offline checks of the deployment files in ``deploy/`` (no Docker engine, no cluster).

* The Swarm stack: validated against the Compose specification's JSON schema (vendored from the
  docker-compose 1.29.2 wheel, Apache-2.0: ``compose_spec.json`` beside this file), and with
  ``docker stack config`` where a docker CLI >= 23 is on the PATH; then what no schema says:
  the worker is a ``gpsa batch work`` replicated job restarted on failure, its grace period
  exceeds gpsa's stop bound, Redis keeps an AOF on a volume and never evicts, the GPU service
  reserves a GPU and is placed on GPU nodes.
* The Kubernetes manifests: every YAML document parsed; kinds and apiVersions; validated
  strictly against the Kubernetes JSON schemas of the ``kubernetes-validate`` package; the
  worker Job is Indexed with a per-index retry budget.
* The Dockerfiles: parsed into instructions; a FROM, a non-root USER, ENTRYPOINT ``gpsa``,
  gpsa installed from the repository (with the ``cuda`` extra on a matching CUDA base image).
* Every gpsa command line in these files parses with gpsa's own argument parser.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

jsonschema = pytest.importorskip("jsonschema")
yaml = pytest.importorskip("yaml")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
STACK = DEPLOY / "swarm" / "stack.yml"
K8S_FILES = sorted((DEPLOY / "k8s").glob("*.yaml"))
DOCKERFILES = {"cpu": DEPLOY / "Dockerfile", "cuda": DEPLOY / "Dockerfile.cuda"}
COMPOSE_SCHEMA = Path(__file__).with_name("compose_spec.json")

#: Kubernetes versions the manifests must be valid for: the oldest with backoffLimitPerIndex
#: on by default, and the newest that kubernetes-validate knows.
K8S_VERSIONS = ("1.29.0", "latest")
K8S_API = {"Service": "v1", "PersistentVolumeClaim": "v1", "StatefulSet": "apps/v1",
           "Job": "batch/v1", "ConfigMap": "v1", "ServiceAccount": "v1",
           "Deployment": "apps/v1", "Role": "rbac.authorization.k8s.io/v1",
           "RoleBinding": "rbac.authorization.k8s.io/v1"}
DOCKERFILE_INSTRUCTIONS = {"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM",
                           "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL",
                           "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}


def default_stop_timeout() -> float:
    """gpsa's default stop bound, ``[run] stop_timeout``."""
    from gpsa.config.resolve import RunSettings

    return float(RunSettings.__dict__["stop_timeout"].default)


# --- Compose: interpolation, durations -----------------------------------------------------

_VAR = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?-)(?P<default>[^}]*))?\})")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose variable substitution (``${NAME}``, ``${NAME:-default}``, ``${NAME-default}``,
    ``$$``) as ``docker stack deploy`` does it before loading the YAML."""
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, default = m.group("name", "op", "default")
        value = env.get(name)
        if (op == ":-" and not value) or (op == "-" and value is None):
            return default
        if value is None:
            raise KeyError(f"{name} is not set and has no default")
        return value

    return _VAR.sub(sub, text)


def load_stack(env: dict[str, str] | None = None) -> dict[str, Any]:
    return yaml.safe_load(interpolate(STACK.read_text(), env or {}))


_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(duration: str) -> float:
    """A Compose (Go) duration such as ``1m30s`` in seconds."""
    assert _DURATION.match(duration), f"not a duration: {duration!r}"
    return sum(float(n) * _UNIT[u]
               for n, u in re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", duration))


def compose_validator() -> Any:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    formats = jsonschema.FormatChecker()
    formats.checks("duration")(lambda value: not isinstance(value, str)
                               or bool(_DURATION.match(value)))
    # The file's "$schema" (http://json-schema.org/draft/2019-09/schema#) is not the draft's
    # exact id, so name the draft here.
    cls = jsonschema.Draft201909Validator
    cls.check_schema(schema)
    return cls(schema, format_checker=formats)


def schema_errors(doc: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in compose_validator().iter_errors(doc)]


# --- gpsa command lines ----------------------------------------------------------------------

def gpsa_commands() -> set[str]:
    from gpsa.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def check_gpsa_argv(argv: list[str], where: str) -> None:
    """``argv`` (without the program name) parses with ``gpsa``'s parser; skips, naming the
    reason, when its command is ``batch`` and that is not registered yet."""
    from gpsa.cli.main import build_parser

    assert argv, f"{where}: empty gpsa command line"
    if argv[0] not in gpsa_commands():
        if argv[0] == "batch":
            pytest.skip(f"{where}: `gpsa batch` is not a registered command yet, so "
                        f"{' '.join(argv)!r} cannot be checked against its parser")
        pytest.fail(f"{where}: {argv[0]!r} is not a gpsa command")
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{where}: `gpsa {' '.join(argv)}` does not parse (exit {exc.code})")
    assert getattr(args, "func", None), f"{where}: `gpsa {' '.join(argv)}` runs no command"


def service_argv(service: dict[str, Any], image_entrypoint: list[str]) -> list[str]:
    """A stack service's command line with the image's ENTRYPOINT, minus the program."""
    entry = service.get("entrypoint", image_entrypoint)
    entry = entry.split() if isinstance(entry, str) else list(entry)
    cmd = service.get("command", [])
    argv = entry + (cmd.split() if isinstance(cmd, str) else list(cmd))
    assert argv and argv[0] == "gpsa", f"does not run gpsa: {argv}"
    return argv[1:]


# --- Dockerfiles ---------------------------------------------------------------------------

def dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: comments dropped, continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, f"{path.name}: ends inside a continued line"
    return out


def exec_form(instructions: list[tuple[str, str]], name: str) -> list[str]:
    values = [rest for word, rest in instructions if word == name]
    assert values, f"no {name}"
    value = json.loads(values[-1])  # the last one counts
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), \
        f"{name} is not in exec (JSON) form"
    return value


def base_image(instructions: list[tuple[str, str]]) -> str:
    """The image of the last FROM, with ARG defaults given before the first FROM applied."""
    args: dict[str, str] = {}
    image = ""
    for word, rest in instructions:
        if word == "ARG" and not image and "=" in rest:
            k, _, v = rest.partition("=")
            args[k] = v.strip("\"'")
        if word == "FROM":
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)),
                           rest.split()[0])
    return image


def dockerignore() -> list[str]:
    return [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
            if ln.strip() and not ln.strip().startswith("#")]


def _glob(segs: list[str], pats: list[str]) -> bool:
    """Path segments against pattern segments: ``*`` stays within a segment, ``**`` spans any
    number of them (Docker's rules)."""
    if not pats:
        return not segs
    if pats[0] == "**":
        return any(_glob(segs[i:], pats[1:]) for i in range(len(segs) + 1))
    return bool(segs) and fnmatchcase(segs[0], pats[0]) and _glob(segs[1:], pats[1:])


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore excludes ``path`` or a folder above it; the last matching pattern
    wins, ``!`` re-includes."""
    parts = path.split("/")
    result = False
    for pat in patterns:
        neg = pat.startswith("!")
        pats = pat.lstrip("!").strip("/").split("/")
        if any(_glob(parts[:i], pats) for i in range(1, len(parts) + 1)):
            result = not neg
    return result


# --- the stack -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return load_stack()


def test_stack_matches_the_compose_schema(stack: dict[str, Any]) -> None:
    assert schema_errors(stack) == []
    # The validator is not a no-op: a misspelt key and a bad duration are both reported.
    broken = load_stack()
    broken["services"]["worker"]["deploy"]["restart_polcy"] = {"condition": "on-failure"}
    broken["services"]["worker"]["stop_grace_period"] = "15 seconds"
    errors = "\n".join(schema_errors(broken))
    assert "restart_polcy" in errors and "15 seconds" in errors


def test_stack_interpolates_the_settings() -> None:
    stack = load_stack({"GPSA_WORKERS": "12", "GPSA_IMAGE": "reg.lab/gpsa:1.0",
                        "GPSA_NFS_SERVER": "nas1"})
    worker = stack["services"]["worker"]
    assert worker["deploy"]["replicas"] == 12 and worker["image"] == "reg.lab/gpsa:1.0"
    assert "addr=nas1," in stack["volumes"]["gpsa-data"]["driver_opts"]["o"]
    assert schema_errors(stack) == []


def _docker_stack_config() -> str | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run([docker, "stack", "config", "--help"], capture_output=True,
                           text=True, timeout=60)
    return docker if probe.returncode == 0 else None


def test_stack_with_docker_stack_config(tmp_path: Path) -> None:
    docker = _docker_stack_config()
    if docker is None:
        pytest.skip("no docker CLI with `docker stack config` (needs docker >= 23; Debian "
                    "12's docker.io is 20.10): checked against the Compose schema only")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path)}
    ok = subprocess.run([docker, "stack", "config", "-c", str(STACK)], capture_output=True,
                        text=True, timeout=60, env=env)
    assert ok.returncode == 0, ok.stderr
    resolved = yaml.safe_load(ok.stdout)
    assert resolved["services"]["worker"]["deploy"]["mode"] == "replicated-job"
    # ... and it does reject a broken file.
    bad = tmp_path / "bad.yml"
    bad.write_text(STACK.read_text().replace("restart_policy:", "restart_polcy:", 1))
    rejected = subprocess.run([docker, "stack", "config", "-c", str(bad)],
                              capture_output=True, text=True, timeout=60, env=env)
    assert rejected.returncode != 0 and "restart_polcy" in rejected.stderr + rejected.stdout


def test_stack_redis_keeps_an_aof_and_never_evicts(stack: dict[str, Any]) -> None:
    redis = stack["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    cmd = redis["command"]
    cmd = cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]
    opts = dict(zip(cmd[1::2], cmd[2::2], strict=False))
    assert cmd[0] == "redis-server"
    assert opts["--appendonly"] == "yes" and opts["--appendfsync"] == "everysec"
    assert opts["--maxmemory-policy"] == "noeviction" and "--maxmemory" in opts
    mounts = {m.split(":")[1]: m.split(":")[0] for m in redis["volumes"]}
    assert mounts[opts["--dir"]] in stack["volumes"], "Redis data not on a named volume"
    assert "redis-cli" in " ".join(redis["healthcheck"]["test"])
    assert redis["deploy"]["replicas"] == 1 and redis["deploy"]["placement"]["constraints"]


@pytest.mark.parametrize("name", ["worker", "worker-gpu"])
def test_stack_workers_are_restarted_replicated_jobs(stack: dict[str, Any], name: str) -> None:
    svc = stack["services"][name]
    deploy = svc["deploy"]
    assert deploy["mode"] == "replicated-job"
    assert isinstance(deploy["replicas"], int) and deploy["replicas"] >= 1
    assert deploy["restart_policy"]["condition"] == "on-failure"
    assert seconds(svc["stop_grace_period"]) > default_stop_timeout(), \
        "SIGKILL would come before gpsa's stop bound"
    assert svc.get("init") is True
    # The Redis URL names the stack's redis service on a network both are on.
    cmd = svc["command"]
    url = cmd[cmd.index("--redis") + 1]
    m = re.fullmatch(r"redis://([\w.-]+):(\d+)/\d+", url)
    assert m and m.group(1) in stack["services"] and m.group(2) == "6379"
    assert set(svc["networks"]) & set(stack["services"][m.group(1)]["networks"])
    # Run data: the same shared volume at the same path as the other worker.
    assert "gpsa-data:/data" in svc["volumes"] and svc["working_dir"] == "/data"
    assert stack["volumes"]["gpsa-data"]["driver_opts"]["type"] == "nfs"


def test_stack_gpu_worker_reserves_a_gpu_on_gpu_nodes(stack: dict[str, Any]) -> None:
    gpu = stack["services"]["worker-gpu"]
    reservations = gpu["deploy"]["resources"]["reservations"]
    specs = [g["discrete_resource_spec"] for g in reservations["generic_resources"]]
    assert {"kind": "NVIDIA-GPU", "value": 1} in specs
    assert "devices" not in reservations, "docker stack deploy rejects Compose `devices:`"
    constraints = gpu["deploy"]["placement"]["constraints"]
    assert any(re.fullmatch(r"node\.labels\.\S+\s*==\s*\S+", c) for c in constraints)
    assert gpu["image"] != stack["services"]["worker"]["image"]
    assert gpu["command"][-2:] == ["--device", "cuda"]
    # CPU workers stay off the GPU nodes.
    assert "node.labels.gpu != true" in stack["services"]["worker"]["deploy"]["placement"][
        "constraints"]
    net = stack["networks"]["gpsa"]
    assert net["driver"] == "overlay" and net["attachable"] is True


# --- Kubernetes ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def k8s() -> list[tuple[str, dict[str, Any]]]:
    docs = [(p.name, d) for p in K8S_FILES for d in yaml.safe_load_all(p.read_text())
            if d is not None]
    assert docs
    return docs


def _one(docs: list[tuple[str, dict[str, Any]]], kind: str, name: str) -> dict[str, Any]:
    found = [d for _, d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def test_k8s_kinds_and_api_versions(k8s: list[tuple[str, dict[str, Any]]]) -> None:
    for fname, doc in k8s:
        assert doc["kind"] in K8S_API, f"{fname}: unexpected kind {doc['kind']}"
        assert doc["apiVersion"] == K8S_API[doc["kind"]], f"{fname}: {doc['kind']}"
    kinds = sorted((d["kind"], d["metadata"]["name"]) for f, d in k8s
                   if not f.startswith("monitoring"))  # tests/deploy/test_k8s_monitoring.py
    assert kinds == [("Job", "gpsa-batch-init"), ("Job", "gpsa-batch-work"),
                     ("PersistentVolumeClaim", "gpsa-data"), ("Service", "gpsa-redis"),
                     ("StatefulSet", "gpsa-redis")]


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_k8s_manifests_match_the_kubernetes_schemas(
        k8s: list[tuple[str, dict[str, Any]]], version: str) -> None:
    kv = pytest.importorskip("kubernetes_validate")
    version = kv.latest_version() if version == "latest" else version
    for fname, doc in k8s:
        try:
            kv.validate(doc, version, strict=True)
        except kv.ValidationError as exc:
            pytest.fail(f"{fname}: {doc['kind']}/{doc['metadata']['name']} against "
                        f"Kubernetes {version}: {exc}")


def test_k8s_redis_keeps_an_aof_on_a_pvc(k8s: list[tuple[str, dict[str, Any]]]) -> None:
    svc = _one(k8s, "Service", "gpsa-redis")
    sts = _one(k8s, "StatefulSet", "gpsa-redis")
    pod = sts["spec"]["template"]
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert [p["port"] for p in svc["spec"]["ports"]] == [6379]
    (redis,) = pod["spec"]["containers"]
    args = [str(a) for a in redis["args"]]
    opts = dict(zip(args[::2], args[1::2], strict=False))
    assert opts["--appendonly"] == "yes" and opts["--maxmemory-policy"] == "noeviction"
    mount = next(m for m in redis["volumeMounts"] if m["mountPath"] == opts["--dir"])
    assert mount["name"] in [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]]
    assert sts["spec"]["replicas"] == 1 and redis["readinessProbe"]


def test_k8s_work_job_is_indexed_with_a_retry_budget_per_index(
        k8s: list[tuple[str, dict[str, Any]]]) -> None:
    spec = _one(k8s, "Job", "gpsa-batch-work")["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] >= 1 and 1 <= spec["parallelism"] <= spec["completions"]
    assert isinstance(spec["backoffLimitPerIndex"], int) and spec["backoffLimitPerIndex"] >= 1
    assert "backoffLimit" not in spec
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"  # required by podFailurePolicy, backoffLimitPerIndex
    assert pod["terminationGracePeriodSeconds"] > default_stop_timeout()
    actions = {r["action"] for r in spec["podFailurePolicy"]["rules"]}
    assert actions <= {"Ignore", "FailIndex", "FailJob", "Count"} and "FailIndex" in actions
    names = {c["name"] for c in pod["containers"]}
    for rule in spec["podFailurePolicy"]["rules"]:
        if "onExitCodes" in rule:
            assert rule["onExitCodes"]["containerName"] in names


@pytest.mark.parametrize("job", ["gpsa-batch-init", "gpsa-batch-work"])
def test_k8s_jobs_reach_redis_and_the_shared_data(
        k8s: list[tuple[str, dict[str, Any]]], job: str) -> None:
    pod = _one(k8s, "Job", job)["spec"]["template"]["spec"]
    (gpsa,) = [c for c in pod["containers"] if c["name"] == "gpsa"]
    url = gpsa["args"][gpsa["args"].index("--redis") + 1]
    assert url == "redis://gpsa-redis:6379/0"
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in gpsa["volumeMounts"]}
    assert claims[mounts["/data"]] == "gpsa-data"
    _one(k8s, "PersistentVolumeClaim", "gpsa-data")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert any("redis-cli -h gpsa-redis ping" in " ".join(c["command"])
               for c in pod["initContainers"])


# --- Dockerfiles ---------------------------------------------------------------------------

@pytest.mark.parametrize("flavour", sorted(DOCKERFILES))
def test_dockerfile_parses(flavour: str) -> None:
    ins = dockerfile(DOCKERFILES[flavour])
    words = [w for w, _ in ins]
    assert set(words) <= DOCKERFILE_INSTRUCTIONS, set(words) - DOCKERFILE_INSTRUCTIONS
    assert "FROM" in words and all(w == "ARG" for w in words[:words.index("FROM")])
    assert exec_form(ins, "ENTRYPOINT") == ["gpsa"]
    user = [rest for w, rest in ins if w == "USER"][-1]
    assert user.split(":")[0] not in ("root", "0")
    # gpsa is installed from the repository: pyproject.toml and the package copied, then
    # `pip install .` (with extras) run where they were copied.
    copied = [rest.split() for w, rest in ins if w == "COPY"]
    sources = {s for c in copied for s in c[:-1] if not s.startswith("--")}
    assert {"pyproject.toml", "README.md", "gpsa"} <= sources
    installs = [rest for w, rest in ins if w == "RUN" and "pip install" in rest]
    assert any(re.search(r"pip install \"?\.(\$\{GPSA_EXTRAS|\[|\"|\s|$)", r)
               for r in installs), installs


def test_cpu_dockerfile_base() -> None:
    assert base_image(dockerfile(DOCKERFILES["cpu"])) == "python:3.11-slim"


def test_cuda_dockerfile_matches_the_cuda_extra() -> None:
    ins = dockerfile(DOCKERFILES["cuda"])
    image = base_image(ins)
    m = re.fullmatch(r"nvidia/cuda:(\d+)\.(\d+)\.\d+-(?:base|runtime|devel)\S*", image)
    assert m, image
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    extra = extras["cuda"]
    while not any(r.startswith("cupy-cuda") for r in extra):  # an alias: gpsa[cuda12]
        alias = next(re.fullmatch(r"gpsa\[(\w+)\]", r) for r in extra)
        assert alias, extra
        extra = extras[alias.group(1)]
    cupy = next(r for r in extra if r.startswith("cupy-cuda"))
    wanted = re.match(r"cupy-cuda(\d+)x", cupy).group(1)  # type: ignore[union-attr]
    assert m.group(1) == wanted, f"{cupy} needs a CUDA {wanted} base image, not {image}"
    apt = next(rest.partition("=")[2] for w, rest in ins
               if w == "ARG" and rest.startswith("CUDA_APT_VERSION="))
    assert apt == f"{m.group(1)}-{m.group(2)}", "cuda-nvcc apt version differs from the base"
    assert any("[cuda" in rest for w, rest in ins if w == "RUN" and "pip install" in rest)


def test_dockerignore_keeps_local_state_out_but_not_the_sources() -> None:
    patterns = dockerignore()
    for path in (".venv", ".git", "bases/cache", "bench/results", "gpsa/psa/__pycache__",
                 "tests", "x.egg-info", "demo/00A/psa.adf"):
        assert ignored(path, patterns), f"{path} would be sent to the builder"
    copied = {s for ins in map(dockerfile, DOCKERFILES.values()) for w, rest in ins
              if w == "COPY" for s in rest.split()[:-1]}
    for path in copied | {"gpsa/psa/kernels/grid_search.cu", "gpsa/adf/keys_agata.txt"}:
        assert (ROOT / path).exists(), f"COPY {path}: not in the repository"
        assert not ignored(path, patterns), f"COPY {path}: excluded by .dockerignore"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["readme"] in copied  # needed by `pip install .`


# --- gpsa command lines in every file ------------------------------------------------------

def _command_lines() -> list[tuple[str, list[str]]]:
    lines: list[tuple[str, list[str]]] = []
    entry = {}
    for flavour, path in DOCKERFILES.items():
        ins = dockerfile(path)
        entry[flavour] = exec_form(ins, "ENTRYPOINT")
        lines.append((f"{path.name} CMD", entry[flavour][1:] + exec_form(ins, "CMD")))
    for name, svc in load_stack()["services"].items():
        if "gpsa" in svc["image"]:
            flavour = "cuda" if "cuda" in svc["image"] else "cpu"
            lines.append((f"stack.yml {name}", service_argv(svc, entry[flavour])))
    for path in K8S_FILES:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == "Job":
                for c in doc["spec"]["template"]["spec"]["containers"]:
                    if "gpsa" in c["image"]:
                        assert c["command"] == ["gpsa"]
                        lines.append((f"{path.name} {c['name']}", list(c["args"])))
    return lines


def test_every_gpsa_command_line_is_found() -> None:
    where = [w for w, _ in _command_lines()]
    assert where == ["Dockerfile CMD", "Dockerfile.cuda CMD", "stack.yml worker",
                     "stack.yml worker-gpu", "batch-init.yaml gpsa", "batch-work.yaml gpsa"]


@pytest.mark.parametrize(("where", "argv"),
                         [pytest.param(w, a, id=w) for w, a in _command_lines()])
def test_gpsa_command_lines_parse(where: str, argv: list[str]) -> None:
    assert argv[:2] in (["batch", "work"], ["batch", "init"]), f"{where}: {argv}"
    check_gpsa_argv(argv, where)
