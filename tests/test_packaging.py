"""What pyproject.toml promises about installing: each optional extra is listed once, the dev
group takes the extras by naming the project (so `uv sync --extra cluster` is the one way to get
Dask outside a dev checkout, and `uv run pytest` in a fresh clone still runs the cluster tests),
and uv.lock matches pyproject.toml."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest

from tests.conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()


def test_each_extra_is_listed_once_and_the_dev_group_takes_it_by_name() -> None:
    extras = PROJECT["project"]["optional-dependencies"]
    dev = PROJECT["dependency-groups"]["dev"]
    in_extras = {_name(r) for reqs in extras.values() for r in reqs}
    assert {"dask", "distributed"} <= {_name(r) for r in extras["cluster"]}
    assert not in_extras & {_name(r) for r in dev}, "a package of an extra is listed again in the dev group"
    itself = [r for r in dev if _name(r) == PROJECT["project"]["name"]]
    assert len(itself) == 1 and set(re.findall(r"\w+", itself[0].split("[", 1)[1])) == set(extras), itself


def test_the_lock_file_matches_pyproject() -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    done = subprocess.run([uv, "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
