"""The README's two commands are the project's contract with a new user and with CI."""

from __future__ import annotations

import re

from conftest import REPO


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README must start with a bash block holding the two commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands():
    text = (REPO / "README.md").read_text()
    assert text.index("```bash") < 40, "the commands must be the README's first lines"
    assert len(readme_commands()) == 2


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci


def test_ci_lints_before_the_tests():
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    tests_at = ci.index(readme_commands()[1])
    for lint in (".venv/bin/ruff check", ".venv/bin/ruff format --check", ".venv/bin/lint-imports"):
        assert lint in ci[:tests_at], f"{lint} must run in .ci/run before the tests"
