"""The 'Testing your batches' examples in README and docs/TESTING.md are what runs.

* the complete test is the test file verbatim (and test_packaging runs it in a
  project outside this repository);
* the "Without pytest" script runs as it is, from a folder outside the repository;
* the pytest-asyncio settings shown are the ones the plugin asks for.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from execbatch.testing.pytest_plugin import SETTINGS

ROOT = Path(__file__).resolve().parents[2]


def test_docs_show_the_example_test_verbatim() -> None:
    example = (ROOT / "tests" / "testing" / "test_readme_example.py").read_text()
    for doc in ("docs/TESTING.md", "README.md"):
        assert f"```python\n{example}```\n" in (ROOT / doc).read_text(), doc


def test_docs_show_the_settings_the_plugin_asks_for() -> None:
    lines = "\n".join(f'{key} = "{value}"' for key, value in SETTINGS.items())
    block = f"```toml\n[tool.pytest.ini_options]\n{lines}\n```\n"
    for doc in ("docs/TESTING.md", "README.md"):
        assert block in (ROOT / doc).read_text(), doc


def test_the_script_without_pytest_runs_outside_the_repository(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "TESTING.md").read_text()
    section = text[text.index("### Without pytest") :]
    match = re.search(r"```python\n(.*?)```\n", section, re.DOTALL)
    assert match is not None
    script = tmp_path / "try_the_kit.py"
    script.write_text(match.group(1))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "EXECBATCH_"))}
    env["PYTHONPATH"] = str(ROOT)  # this checkout's execbatch, as if installed

    run = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    # (the test server's SDK core may log a warning on stdout first)
    assert run.stdout.strip().splitlines()[-1] == "COMPLETED ['FILLED', 'FILLED']"
