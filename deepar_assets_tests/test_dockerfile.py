"""deploy/Dockerfile installs what `make setup` installs, the same way.

Nothing here can pull a base image, so the image is never built; these tests hold its install
steps to the Makefile's instead. The Makefile's side is what make itself would run (a dry run of
`make setup`, with every target out of date: nothing is executed), the Dockerfile's side its RUN
lines; both are reduced to their `pip install` arguments and compared: the same upgrade of pip,
torch first with setup.py's pin (from the CPU index in the image, as `make setup
TORCH_INDEX=<index>` does), then the project. The rest checks what the image needs from the
build context: the base image's Python, the files it copies, the instance config, the command;
and that the ECS instance config deploy/README.md gives is one Dagster and dagster-aws accept.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import tomllib
from functools import cache
from pathlib import Path, PurePosixPath

import yaml
from dagster._cli.code_server import code_server_cli
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config_schema
from dagster_aws.ecs import EcsRunLauncher
from dagster_aws.ecs.container_context import EcsContainerContext
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from deepar_assets.domain.spec.load import SHIPPED

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
README = ROOT / "deploy" / "README.md"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
VALUE_OPTIONS = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-c", "--constraint"}
# Variables that would change what the dry run prints (a parent make's flags, a caller's overrides).
MAKE_ENVIRONMENT = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "TORCH_INDEX", "VENV", "PYTHON"}


# --- The Makefile's side --------------------------------------------------------------------------


@cache
def make_setup_commands(*assignments: str) -> tuple[tuple[str, ...], ...]:
    """The command lines `make setup` runs from scratch, as make expands them (dry run)."""
    environment = {k: v for k, v in os.environ.items() if k not in MAKE_ENVIRONMENT}
    printed = subprocess.run(
        ["make", "--dry-run", "--always-make", "--no-print-directory", "setup", *assignments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return tuple(tuple(shlex.split(line)) for line in printed.splitlines() if line.strip())


def make_pip_steps(*assignments: str) -> list[list[str]]:
    return [args for command in make_setup_commands(*assignments) if (args := pip_install_args(command)) is not None]


# --- The Dockerfile's side ------------------------------------------------------------------------


@cache
def instructions() -> tuple[tuple[str, str], ...]:
    """The Dockerfile's instructions in order, (KEYWORD, arguments): continuations joined, comments dropped."""
    found, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        found.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return tuple(found)


def image_environment() -> dict[str, str]:
    environment = {}
    for keyword, arguments in instructions():
        if keyword == "ENV":
            for assignment in shlex.split(arguments):
                name, equals, value = assignment.partition("=")
                assert equals, f"ENV {arguments}: write ENV NAME=value"
                environment[name] = value
    return environment


def expand(text: str) -> str:
    environment = image_environment()
    return re.sub(r"\$\{?(\w+)\}?", lambda m: environment[m.group(1)], text)


def docker_pip_runs() -> list[tuple[int, list[str]]]:
    """(instruction index, arguments) of every `pip install` the RUN lines make."""
    runs = []
    for index, (keyword, arguments) in enumerate(instructions()):
        if keyword == "RUN":
            for command in arguments.split("&&"):
                if (args := pip_install_args(tuple(shlex.split(command)))) is not None:
                    runs.append((index, args))
    return runs


def docker_pip_steps() -> list[list[str]]:
    return [args for _, args in docker_pip_runs()]


def image_copies() -> list[tuple[int, Path, PurePosixPath]]:
    """(instruction index, source in the build context, path in the image) for every COPY."""
    copies, workdir = [], PurePosixPath("/")
    for index, (keyword, arguments) in enumerate(instructions()):
        if keyword == "WORKDIR":
            workdir = workdir / expand(arguments)
        elif keyword == "COPY":
            *sources, destination = [w for w in shlex.split(arguments) if not w.startswith("--")]
            target = workdir / expand(destination)
            for source in sources:
                into = target / Path(source).name if destination.endswith("/") or len(sources) > 1 else target
                copies.append((index, ROOT / source, into))
    return copies


def workdir_at(position: int) -> PurePosixPath:
    workdir = PurePosixPath("/")
    for keyword, arguments in instructions()[:position]:
        if keyword == "WORKDIR":
            workdir = workdir / expand(arguments)
    return workdir


def only(keyword: str) -> str:
    [arguments] = [a for k, a in instructions() if k == keyword]
    return arguments


# --- Both -----------------------------------------------------------------------------------------


def pip_install_args(command: tuple[str, ...]) -> list[str] | None:
    """The arguments of a `pip install` (pip, python -m pip, a virtualenv's either), else None."""
    words = list(command)
    if len(words) >= 3 and re.fullmatch(r"python[\d.]*", Path(words[0]).name) and words[1:3] == ["-m", "pip"]:
        words = words[2:]
    if len(words) >= 2 and re.fullmatch(r"pip[\d.]*", Path(words[0]).name) and words[1] == "install":
        return words[2:]
    return None


def named(args: list[str]) -> list[str]:
    """What a `pip install` names, its options (and their values) left out."""
    names, skip = [], False
    for arg in args:
        if skip or arg.startswith("-"):
            skip = not skip and arg in VALUE_OPTIONS
            continue
        names.append(arg)
    return names


def setup_py(keyword: str):
    tree = ast.parse((ROOT / "setup.py").read_text())
    [call] = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup"]
    [value] = [k.value for k in call.keywords if k.arg == keyword]
    return ast.literal_eval(value)


def torch_pin() -> Requirement:
    [torch] = [Requirement(r) for r in setup_py("install_requires") if Requirement(r).name == "torch"]
    return torch


def project(args: list[str]) -> tuple[bool, str, str]:
    """(editable, path, extras) of a `pip install [-e] <path>[extras]`."""
    editable = args[0] in ("-e", "--editable")
    [target] = args[1:] if editable else args
    path, _, extras = target.partition("[")
    return editable, path, extras.rstrip("]")


# --- Tests ----------------------------------------------------------------------------------------


def test_make_setup_and_the_image_run_three_pip_steps_upgrade_torch_then_the_project():
    for side, steps in (("make setup", make_pip_steps()), ("deploy/Dockerfile", docker_pip_steps())):
        assert len(steps) == 3, f"{side} should run three pip installs, runs {steps}"
        upgrade, torch, last = steps
        assert upgrade == ["--upgrade", "pip", "setuptools", "wheel"], f"{side}: {upgrade}"
        assert [Requirement(a).name for a in named(torch)] == ["torch"], (
            f"{side} should install torch alone, before anything that depends on it: {torch}"
        )
        assert project(last)[1] == ".", f"{side} should install the project last: {last}"


def test_torch_is_pinned_exactly_and_both_install_setup_pys_pin():
    pin = torch_pin()
    assert len(pin.specifier) == 1 and next(iter(pin.specifier)).operator == "==", f"setup.py: {pin}"
    assert "*" not in str(pin.specifier), f"setup.py's torch pin must be exact (the CPU build): {pin}"
    for side, steps in (("make setup", make_pip_steps()), ("deploy/Dockerfile", docker_pip_steps())):
        [requirement] = [Requirement(a) for a in named(steps[1])]
        assert (requirement.name, requirement.specifier) == (pin.name, pin.specifier), f"{side}: {requirement}"


def test_the_image_takes_torch_from_the_cpu_index_exactly_as_make_setup_with_torch_index_does():
    docker_torch = docker_pip_steps()[1]
    assert docker_torch[:2] == ["--index-url", CPU_INDEX], f"the image should take torch from {CPU_INDEX}"
    assert make_pip_steps(f"TORCH_INDEX={CPU_INDEX}")[1] == docker_torch


def test_make_setup_leaves_the_torch_index_to_pips_configuration_by_default():
    torch = make_pip_steps()[1]
    assert [a for a in torch if a.startswith("-")] == [], f"make setup names an index by default: {torch}"


def test_the_image_installs_the_project_as_make_setup_does_editable_without_the_test_extras():
    made, image = project(make_pip_steps()[2]), project(docker_pip_steps()[2])
    assert made == (True, ".", "test")
    assert image == (True, ".", ""), f"the image should install the project as make does, without extras: {image}"


def test_the_image_finds_the_shipped_dataset_specs_beside_the_package():
    # spec/load.py reads the shipped specs from the source tree's datasets/, outside the package:
    # a plain `pip install .` would leave them behind, and the code location would not load.
    package = ROOT / "deepar_assets"
    assert not SHIPPED.is_relative_to(package) and SHIPPED.is_dir()
    [(install, args)] = [(index, args) for index, args in docker_pip_runs() if args[-1].partition("[")[0] == "."]
    assert project(args)[0], "the image should install the project editable, from its copy of the source tree"
    workdir = workdir_at(install)
    copied = {source: (index, into) for index, source, into in image_copies()}
    for needed in (ROOT / "setup.py", ROOT / "pyproject.toml", package, SHIPPED):
        assert needed in copied, f"the image should copy {needed.relative_to(ROOT)}"
        index, into = copied[needed]
        assert index < install, f"{needed.relative_to(ROOT)} should be copied before the project is installed"
        assert into == workdir / needed.relative_to(ROOT), f"{needed.relative_to(ROOT)} lands at {into}"


def test_the_image_python_is_the_one_setup_py_and_the_makefile_require():
    match = re.fullmatch(r"python:(\d+\.\d+)(-slim)?", only("FROM"))
    assert match, f"the base image should be python:<major.minor>-slim, is {only('FROM')}"
    version = match.group(1)
    requires = SpecifierSet(setup_py("python_requires"))
    assert f"{version}.0" in requires and f"{version}.99" in requires, f"{version} vs python_requires {requires}"
    [venv] = [c for c in make_setup_commands() if c[1:3] == ("-m", "venv")]
    assert venv[0] == f"python{version}", f"make setup's virtualenv is {venv[0]}, the image's Python {version}"


def test_every_file_the_image_copies_is_in_the_build_context():
    copies = image_copies()
    assert copies
    for _, source, _ in copies:
        assert source.exists(), f"COPY {source.relative_to(ROOT)}: not in the repository"
        # The whole context would take .venv and .deepar along: there is no .dockerignore.
        assert source != ROOT, "the image should copy what it needs by name, not the whole repository"


def test_the_image_instance_config_is_a_valid_instance_with_telemetry_off():
    home = PurePosixPath(image_environment()["DAGSTER_HOME"])
    [source] = [s for _, s, into in image_copies() if into == home / "dagster.yaml"]
    config = yaml.safe_load(source.read_text())
    assert config["telemetry"] == {"enabled": False}, f"{source.relative_to(ROOT)} should turn telemetry off"
    result = validate_config(dagster_instance_config_schema(), config)
    assert result.success, [e.message for e in result.errors]


def test_the_image_serves_the_code_location_on_the_port_it_exposes():
    command = json.loads(only("CMD"))
    assert command[:3] == ["dagster", "code-server", "start"], command
    options = code_server_cli.commands["start"].make_context("start", command[3:]).params  # unknown options fail
    module = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    assert options["module_name"] == module == "deepar_assets"
    assert options["host"] == "0.0.0.0", "the code server should listen beyond the container"
    assert str(options["port"]) == only("EXPOSE") == "4000"


def test_the_ecs_instance_in_the_deploy_readme_is_valid_for_dagster_and_the_ecs_run_launcher():
    text = README.read_text()
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "EcsRunLauncher" in b]
    config = yaml.safe_load(block)
    result = validate_config(dagster_instance_config_schema(), config)
    assert result.success, [e.message for e in result.errors]
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    result = validate_config(EcsRunLauncher.config_type(), launcher["config"])
    assert result.success, [e.message for e in result.errors]
    postgres = yaml.safe_load((ROOT / "deploy" / "dagster-postgres.yaml").read_text())
    assert {k: v for k, v in config.items() if k != "run_launcher"} == postgres, (
        "the README's ECS instance should be deploy/dagster-postgres.yaml with the run launcher added"
    )
    [context] = re.findall(r'`(\{"ecs": .*?\})`', text)
    assert EcsContainerContext.create_from_config(json.loads(context)).task_role_arn
