"""The README's "Results" section is generated from the published pages under docs/results/."""

from __future__ import annotations

import pytest

from sparsernn.errors import DataError
from sparsernn.studies.headline import END, START, headline, headlines
from sparsernn.studies.readme import BEGIN, main, results_section, update_readme, with_results

README = (
    "# project\n\nintro\n\n<!-- results:begin -->\nstale text\n<!-- results:end -->\n\n## After\n\nkept\n"
)


def _page(root, study, body, csv=True):
    folder = root / study
    folder.mkdir(parents=True)
    (folder / "summary.md").write_text(body)
    if csv:
        (folder / "runs.csv").write_text("run\na\n")
    (folder / "figure.png").write_bytes(b"png")


@pytest.fixture
def repo(tmp_path):
    pages = tmp_path / "docs" / "results"
    pages.mkdir(parents=True)
    (pages / "README.md").write_text("# Results\n")  # the site's index page: not a study
    structure = "\n".join(
        [
            "# sparsernn report",
            "## Study `darji-structure-thesis` — protocol `darji_structure`, 6 complete runs, 0 failed runs",
            "60 trained models.",
            *headline(["**60 of the 800 graphs of the study's graph file are in**"]),
            "### Our accuracy next to the thesis'",
            *headline(["| cell | family | mean ours | mean thesis |", "| --- | --- | --- | --- |"]),
            "| not | a | headline | row |",
        ]
    )
    _page(pages, "darji-structure-thesis", structure)
    _page(pages, "darji-pruning-thesis", "## Study `darji-pruning-thesis` — protocol `darji_pruning`\n")
    _page(pages, "no-csv", "## Study `no-csv`\n", csv=False)
    (tmp_path / "README.md").write_text(README)
    return tmp_path


def test_headline_marks_round_trip():
    text = "\n".join(["a", *headline(["| x |"]), "b", *headline(["one", "two"]), "c"])
    assert headlines(text) == [["| x |"], ["one", "two"]]
    assert headlines(f"{START}\nopen") == [["open"]] and headlines("no marks") == []
    assert START.startswith("<!--") and END.startswith("<!--")  # invisible on the rendered page


def test_the_section_has_every_page_with_its_headlines_and_links(repo):
    lines = results_section(repo / "docs" / "results")
    text = "\n".join(lines)
    assert lines[0] == "## Results"
    titles = [line for line in lines if line.startswith("### ")]
    assert titles == [
        "### darji-pruning-thesis",
        "### darji-structure-thesis",
        "### no-csv",
    ]  # sorted, no README
    assert "**60 of the 800 graphs of the study's graph file are in**" in text
    assert "| cell | family | mean ours | mean thesis |" in text and "not | a | headline" not in text
    assert "60 trained models." not in text
    assert (
        "[full page](docs/results/darji-structure-thesis/summary.md) · "
        "[runs.csv](docs/results/darji-structure-thesis/runs.csv)" in text
    )
    assert "[full page](docs/results/no-csv/summary.md)" in text and "no-csv/runs.csv" not in text
    assert "Study `darji-pruning-thesis` — protocol `darji_pruning`." in text


def test_regenerating_replaces_only_the_marked_section(repo):
    assert update_readme(repo / "README.md", repo / "docs" / "results")
    text = (repo / "README.md").read_text()
    assert text.startswith("# project\n\nintro\n\n<!-- results:begin -->\n## Results\n")
    assert text.endswith("<!-- results:end -->\n\n## After\n\nkept\n")
    assert "stale text" not in text and text.count("### darji-structure-thesis") == 1
    assert not update_readme(repo / "README.md", repo / "docs" / "results")  # idempotent


def test_no_published_page_says_so(tmp_path):
    assert results_section(tmp_path / "missing")[-2] == "No study is published yet."


@pytest.mark.parametrize(
    "readme",
    ["# no markers\n", f"{BEGIN}\n", "<!-- results:end -->\n<!-- results:begin -->\n", f"{BEGIN}\n{BEGIN}\n"],
)
def test_a_readme_without_one_pair_of_markers_is_refused_in_one_line(readme):
    with pytest.raises(DataError) as error:
        with_results(readme, ["x"])
    assert "\n" not in str(error.value) and BEGIN in str(error.value)


def test_the_command_checks_and_rewrites(repo, capsys):
    args = ["--readme", str(repo / "README.md"), "--pages", str(repo / "docs" / "results")]
    assert main([*args, "--check"]) == 1
    assert main(args) == 0 and "rewritten" in capsys.readouterr().out
    assert main([*args, "--check"]) == 0
    (repo / "README.md").write_text("# no markers\n")
    assert main(args) == 2 and capsys.readouterr().err.startswith("error: the README needs one")
