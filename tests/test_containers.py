"""The container files, read without Docker: the Dockerfile's stages and instructions,
compose.yaml's services and variables, the entry points and health check against the code
they call. scripts/test_images.sh builds and runs the images for real (after `make test`)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
COMPILERS = {"gcc", "g++", "clang", "build-essential", "make", "cmake", "python3-dev",
             "libc6-dev", "cpp"}


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages() -> dict[str, list[tuple[str, str]]]:
    named: dict[str, list[tuple[str, str]]] = {}
    current = None
    for keyword, rest in instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            current = rest.split(" AS ")[-1].strip()
            named[current] = []
        if current:
            named[current].append((keyword, rest))
    return named


def apt_packages(stage: list[tuple[str, str]]) -> set[str]:
    packages = set()
    for keyword, rest in stage:
        if keyword == "RUN":
            for part in re.findall(r"apt-get[^&;]*install([^&;]*)", rest):
                packages |= {word for word in part.split() if not word.startswith(("-", "$"))}
    return packages


def test_two_stages_from_the_base_image_argument():
    named = stages()
    assert list(named) == ["build", "runtime"]
    for stage in named.values():
        assert stage[0] == ("FROM", stage[0][1])
        assert stage[0][1].startswith("${BASE_IMAGE}")
    args = dict(rest.split("=", 1) for keyword, rest in instructions(DOCKERFILE.read_text())
                if keyword == "ARG" and "=" in rest)
    assert args["BASE_IMAGE"] == "debian:bookworm-slim"
    assert args["TORCH_VARIANT"] == "cpu"


def test_runtime_stage_is_small_non_root_healthchecked_and_stops_gracefully():
    runtime = dict(stages()["runtime"])  # last of each instruction
    packages = apt_packages(stages()["runtime"])
    assert {"python3", "ffmpeg", "tini"} <= packages
    assert not packages & COMPILERS, packages & COMPILERS
    assert "--no-install-recommends" in " ".join(r for k, r in stages()["runtime"] if k == "RUN")
    assert runtime["USER"].split(":")[0] not in ("root", "0")
    assert runtime["STOPSIGNAL"] == "SIGTERM"
    assert "healthcheck.py" in runtime["HEALTHCHECK"]
    assert '"serve"' in runtime["CMD"]
    copied = " ".join(rest for keyword, rest in stages()["runtime"] if keyword == "COPY")
    assert "tests" not in copied and "bench" not in copied
    assert "--from=build /opt/venv" in copied


def test_build_stage_takes_the_ca_secret_and_the_wheelhouse():
    runs = [rest for keyword, rest in stages()["build"] if keyword == "RUN"]
    pip_runs = [run for run in runs if "build-venv torch" in run or "build-venv deps" in run]
    assert len(pip_runs) == 2
    for run in pip_runs:
        assert "--mount=type=secret,id=ca" in run
        assert "--mount=type=bind,source=wheelhouse,target=/wheelhouse" in run
    assert (ROOT / "wheelhouse" / "README.md").is_file()
    ignored = subprocess.run(["git", "check-ignore", "-q", "wheelhouse/torch-x.whl"], cwd=ROOT)
    assert ignored.returncode == 0, "wheels in wheelhouse/ must stay out of git"


def shell_value(script: str, name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", script, re.MULTILINE)
    assert match, name
    return match.group(1)


def test_image_pins_the_torch_pair_of_the_install_script():
    """The image and `make setup` install the same torch and torchaudio (see install.sh on
    why they move together) and offer the same CUDA variants."""
    build = (ROOT / "docker" / "build-venv.sh").read_text()
    install = (ROOT / "scripts" / "install.sh").read_text()
    for name in ("TORCH_VERSION", "TORCHAUDIO_VERSION"):
        assert shell_value(build, name) == shell_value(install, name)
    for variant in ("cpu", "cu126", "cu130"):
        assert variant in install and variant in build


def test_dockerignore_keeps_the_context_to_what_the_image_needs():
    rules = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert rules[0] == "*"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert {"Dockerfile", "pyproject.toml", "manage.py", "config", "tts", "docker",
            "wheelhouse"} <= allowed
    assert "tests" not in allowed and ".venv" not in allowed


def entrypoint_commands() -> set[str]:
    text = (ROOT / "docker" / "entrypoint.sh").read_text()
    return set(re.findall(r"^    (\w+)\)$", text, re.MULTILINE))


def test_entry_points_match_the_makefile():
    assert entrypoint_commands() == {"serve", "worker", "beat", "migrate", "manage"}
    entry = (ROOT / "docker" / "entrypoint.sh").read_text()
    makefile = (ROOT / "Makefile").read_text()
    worker_line = makefile[makefile.index("celery -A config worker"):].split("$(WORKER_ARGS)")[0]
    for flag in shlex.split(worker_line.replace("\\\n", " ").replace("\\", " ")):
        if flag.startswith("--") and flag not in ("--concurrency", "--loglevel"):
            assert flag in entry, flag
    assert "exec python -m config.serve" in entry
    assert "make_tiny_models --skip-existing" in entry


def test_healthcheck_asks_the_real_readiness_url_and_worker_keys():
    from django.urls import reverse

    from tts.execution.cluster import KEY_PREFIX

    check = (ROOT / "docker" / "healthcheck.py").read_text()
    assert reverse("tts-ready") in check
    assert f'WORKER_KEY_PREFIX = "{KEY_PREFIX}"' in check
    assert "django" not in check.lower().replace("never sets django up", "")


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_default_is_the_demo_and_scale_is_a_profile():
    services = compose()["services"]
    default = [name for name, spec in services.items() if not spec.get("profiles")]
    assert default == ["demo"]
    demo = services["demo"]
    assert demo["environment"]["TTS_DEMO"] == "1"
    assert demo["ports"] == ["${TTS_PORT:-8000}:8000"]
    assert any(volume.endswith(":/var/lib/tts") for volume in demo["volumes"])
    scale = {name for name, spec in services.items() if spec.get("profiles") == ["scale"]}
    assert scale == {"redis", "postgres", "migrate", "web", "worker", "beat"}
    assert services["web"]["environment"]["TTS_EXECUTION"] == "celery"
    assert services["web"]["environment"]["TTS_MIGRATE"] == "0"
    assert services["worker"]["command"] == ["worker"]
    assert services["beat"]["command"] == ["beat"]


def test_compose_start_order_is_health_gated():
    services = compose()["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"
    for name in ("redis", "postgres"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    for name in ("demo", "web", "worker"):
        grace = int(services[name]["stop_grace_period"].rstrip("s"))
        assert grace > 30, "uvicorn's graceful shutdown takes up to 30 s"
    # Web nodes and workers share the media (voices, job audio).
    media = {v for name in ("web", "worker") for v in services[name]["volumes"]
             if v.endswith(":/var/lib/tts-media")}
    assert media == {"media:/var/lib/tts-media"}


def test_compose_variables_are_documented_and_not_nested():
    """Debian's docker-compose 1.29 cannot nest ${...} defaults; every variable is in
    compose.env.example."""
    text = COMPOSE.read_text()
    assert not re.search(r"\$\{[^}]*\$\{", text)
    example = (ROOT / "compose.env.example").read_text()
    for name in sorted(set(re.findall(r"\$\{([A-Z0-9_]+)", text))):
        assert re.search(rf"^(# )?{name}=", example, re.MULTILINE), name


@pytest.mark.parametrize("path", ["compose.yaml", "docker/test-services/redis.Dockerfile"])
def test_files_exist(path):
    assert (ROOT / path).is_file()


def test_ci_runs_the_image_tests_after_make_test():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert lines.index("bash scripts/test_images.sh") > lines.index("make test")


def test_deployment_page_covers_the_variants_and_records_sizes():
    page = (ROOT / "docs" / "deployment-containers.md").read_text()
    for needed in ("TORCH_VARIANT", "cu126", "cu130", "NVIDIA Container Toolkit",
                   "migrate", "PodDisruptionBudget", "not tested", "readinessProbe"):
        assert needed in page, needed
    assert re.search(r"^\| `cpu` \|[^\n]*\| \d+(\.\d+)? GB \|", page, re.MULTILINE), \
        "the CPU image's measured size"


@pytest.mark.parametrize("script", ["scripts/test_images.sh", "scripts/build_base_image.sh",
                                    "docker/entrypoint.sh", "docker/build-venv.sh",
                                    "docker/test-services/postgres-entrypoint.sh"])
def test_shell_scripts_parse(script):
    shell = "sh" if script.startswith("docker/") else "bash"
    assert subprocess.run([shell, "-n", str(ROOT / script)]).returncode == 0


def test_image_test_says_why_it_skips():
    """Every way out without running the images prints SKIPPED and a reason."""
    text = (ROOT / "scripts" / "test_images.sh").read_text()
    assert 'echo ">> SKIPPED the container image tests: $*"' in text
    exits = [line for line in text.splitlines() if re.search(r"\bexit 0\b", line)]
    assert len(exits) == 1 and "TTS_REQUIRE_IMAGE_TESTS" in text


def run_without_docker(**env: str) -> subprocess.CompletedProcess:
    """The image test where no daemon answers (a docker client that always fails), as a user
    who may neither install packages nor start dockerd."""
    import os
    import shutil

    command = ["bash", str(ROOT / "scripts" / "test_images.sh")]
    environment = {**os.environ, "DOCKER": "/bin/false", **env}
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv to drop privileges")
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=60)


def test_image_test_skips_out_loud_without_a_daemon():
    done = run_without_docker()
    assert done.returncode == 0, done.stderr
    assert ">> SKIPPED the container image tests: no Docker daemon is reachable" in done.stdout
    required = run_without_docker(TTS_REQUIRE_IMAGE_TESTS="1")
    assert required.returncode == 1
    assert "SKIPPED" in required.stdout
