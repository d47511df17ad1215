"""The README's configuration table and the Config object describe the same settings."""

from __future__ import annotations

import re
from pathlib import Path

from hub.config import DESCRIPTIONS, PREFIX, Config

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_in_the_readme_table_and_nothing_else() -> None:
    table = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = {name.lower() for name in re.findall(r"`OCPI_HUB_([A-Z_]+)`", table)}
    assert documented == set(Config.__struct_fields__)
    assert set(DESCRIPTIONS) == set(Config.__struct_fields__)
    assert PREFIX == "OCPI_HUB_"


def test_readme_opens_with_the_two_commands_ci_runs() -> None:
    commands = re.findall(r"^(python3 -m venv .*)$", README, flags=re.MULTILINE)
    assert commands[0].endswith("ocpi-hub serve")
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert commands[1] in ci


def test_root_and_benchmark_readmes_install_the_same_extras() -> None:
    def extras(text: str) -> set[str]:
        return set(re.findall(r"pip install -e '\.\[([a-z,]+)\]'", text))

    bench = (Path(__file__).resolve().parent.parent / "benchmarks" / "README.md").read_text()
    assert extras(README.split("## Benchmarks", 1)[1]) == extras(bench) == {"bench"}


def test_every_outcome_label_value_is_in_the_metrics_table() -> None:
    from routing.observe import OUTCOMES

    rows = [line for line in README.split("**Metrics**", 1)[1].split("\n\n", 2)[1].splitlines()
            if line.startswith(("| `ocpihub_requests_total`", "| `ocpihub_broadcast_deliveries_total`"))]
    assert len(rows) == 2
    documented = set(re.findall(r"[a-z_]+", " ".join(rows)))
    assert set(OUTCOMES) <= documented, sorted(set(OUTCOMES) - documented)


def cli_examples() -> list[str]:
    """Every ``ocpi-hub`` command line in the README's shell blocks, continuation lines joined."""
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    return [line for line in lines if re.match(r"\s*(\.venv/bin/)?ocpi-hub ", line)]


def test_cli_examples_quote_every_star_so_no_shell_expands_it() -> None:
    examples = cli_examples()
    assert any("'NL*CPO'" in line for line in examples)
    for line in examples:
        unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "", line).split(" #", 1)[0]
        assert "*" not in unquoted, line


def test_cli_examples_parse() -> None:
    import shlex

    from hub import cli

    for line in cli_examples():
        line = re.sub(r"<[^>]*>", "x", line.replace("$H", "--hub http://127.0.0.1:8080"))  # <their token A>
        argv = shlex.split(line, comments=True)[1:]
        cli.parser().parse_args(argv)  # exits (argparse) on an option the CLI does not read
