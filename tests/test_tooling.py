"""The project's own tooling says what it does: every make target README and CI name exists, and
the build back end can read the metadata pyproject.toml gives it."""

from __future__ import annotations

import re
import subprocess
import tomllib

from packaging.requirements import Requirement

from tests.helpers import ROOT


def test_every_phony_make_target_has_a_rule():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    found = re.search(r"^\.PHONY:(.*)$", makefile, re.MULTILINE)
    assert found is not None
    targets = found.group(1).split()
    assert {"install", "run", "chat", "test", "test-fast", "lint", "bench"} <= set(targets)
    for target in targets:
        # -n prints the recipe without running it: only a missing rule fails.
        run = subprocess.run(
            ["make", "-n", "-C", str(ROOT), target], capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, f"make {target}: {run.stderr}"


def test_the_setuptools_floor_reads_the_license_field():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    if not isinstance(project["project"].get("license"), str):
        return
    # `license = "MIT"` is an SPDX expression (PEP 639): setuptools reads it from 77.0 on, and
    # refuses the whole pyproject.toml before that ("project.license must be ... table").
    (setuptools,) = [
        Requirement(r)
        for r in project["build-system"]["requires"]
        if Requirement(r).name == "setuptools"
    ]
    assert not setuptools.specifier.contains("76.1.0")
    assert setuptools.specifier.contains("77.0.0")


def _without_postgres(tmp_path, **env):
    """The PostgreSQL run of one store test, where PostgreSQL is not installed."""
    import os
    import sys

    empty = tmp_path / "no-postgres"
    empty.mkdir(exist_ok=True)
    variables = {k: v for k, v in os.environ.items() if k not in ("CI", "TUTOR_TEST_POSTGRES")}
    variables.update(TUTOR_TEST_PG_BIN=str(empty), **env)
    test = (
        "tests/test_store_values.py::test_a_database_error_names_the_database_without_its_password"
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", test],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=variables,
        timeout=300,
    )


def test_without_postgresql_ci_and_make_test_fail_and_a_developer_is_told(tmp_path):
    """CI (CI=true) and `make test` fail the PostgreSQL tests, with the command to install it;
    elsewhere (plain pytest, make test-fast) they are skipped, with the same reason shown."""
    skipped = _without_postgres(tmp_path)
    assert skipped.returncode == 0, skipped.stdout
    assert "1 skipped" in skipped.stdout and "apt-get install postgresql" in skipped.stdout
    for env in ({"CI": "true"}, {"TUTOR_TEST_POSTGRES": "require"}):
        failed = _without_postgres(tmp_path, **env)
        assert failed.returncode == 1, failed.stdout
        assert "1 error" in failed.stdout and "apt-get install postgresql" in failed.stdout
