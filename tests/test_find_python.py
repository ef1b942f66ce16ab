"""Set-up finds a Python 3.10 for the engine by itself, or says exactly what to install."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bot import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "find-python"


def bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment whose PATH has only the tools the script needs (no Pythons at all)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("bash", "cat", "ls", "sort", "head"):
        link = bin_dir / tool
        if not link.exists():
            link.symlink_to(shutil.which(tool) or f"/bin/{tool}")
    return {"PATH": str(bin_dir), "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path), **extra}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)


def version_of(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_no_python_310_anywhere_says_what_to_install(tmp_path: Path):
    result = run(["3.10"], bare_env(tmp_path))
    assert result.returncode == 1 and result.stdout == ""
    assert "No Python 3.10 interpreter found" in result.stderr
    assert "pyenv install 3.10" in result.stderr


def test_a_310_in_pyenvs_versions_folder_is_found(tmp_path: Path):
    # A fake pyenv root whose only version is a link to a real 3.10 found the normal way.
    real = run(["3.10"], dict(os.environ)).stdout.strip()
    assert real, "this machine should have a Python 3.10 (the engine needs it)"
    bin_dir = tmp_path / "versions" / "3.10.99" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python3").symlink_to(real)
    found = run(["3.10"], bare_env(tmp_path)).stdout.strip()
    assert version_of(found) == "3.10"


def test_explicit_interpreter_wins_and_a_wrong_version_is_skipped(tmp_path: Path):
    # A 3.11+ interpreter is not acceptable for the engine.
    env = bare_env(tmp_path, CIVICLINE_ENGINE_PYTHON=sys.executable)
    result = run(["3.10"], env)
    assert result.returncode == 1
    app = run(["3.11+"], {**env, "CIVICLINE_APP_PYTHON": sys.executable})
    assert version_of(app.stdout.strip()) == version_of(sys.executable)
