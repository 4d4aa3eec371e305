"""The README's 'Testing your batches' example is the test file, byte for byte."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_docs_show_the_example_test_verbatim() -> None:
    example = (ROOT / "tests" / "testing_kit" / "test_readme_example.py").read_text()
    docs = (ROOT / "docs" / "TESTING.md").read_text()
    assert f"```python\n{example}```\n" in docs
