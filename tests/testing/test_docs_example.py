"""The 'Testing your batches' example in README and docs/TESTING.md is the test file verbatim."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_docs_show_the_example_test_verbatim() -> None:
    example = (ROOT / "tests" / "testing" / "test_readme_example.py").read_text()
    for doc in ("docs/TESTING.md", "README.md"):
        assert f"```python\n{example}```\n" in (ROOT / doc).read_text(), doc
