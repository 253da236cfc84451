"""The repository keeps its promises: lint-clean, CI runs the README's command, the image runs
`kundval serve`, and the committed OpenAPI description is the one the app produces."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from service.cli import render_openapi

ROOT = Path(__file__).resolve().parent.parent


def _readme_command(heading: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    return re.search(r"```(?:sh|bash)?\n(.+?)\n```", section, re.S).group(1).strip()


def test_ci_runs_the_readme_test_command():
    command = _readme_command("## Run the tests")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert command in ci.splitlines()


def test_image_runs_the_readme_serve_command():
    command = _readme_command("## Run the service")
    serve = command.split("&&")[-1].strip()  # ".venv/bin/kundval serve"
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    cmd = re.search(r"^CMD \[(.+)\]$", dockerfile, re.M).group(1)
    argv = [part.strip().strip('"') for part in cmd.split(",")]
    assert Path(serve.split()[0]).name == argv[0] == "kundval"
    assert serve.split()[1:] == argv[1:] == ["serve"]


def test_openapi_file_is_current():
    committed = (ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8")
    assert committed == render_openapi(), "run `kundval openapi` and commit openapi/openapi.json"


def test_operation_ids_are_explicit():
    import json

    document = json.loads(render_openapi())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert re.fullmatch(r"[a-z][A-Za-z]+", operation["operationId"]), (method, path)


def _ruff(*args: str) -> subprocess.CompletedProcess:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    return subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_lint():
    result = _ruff("check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = _ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr
