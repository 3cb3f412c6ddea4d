import pytest
from typer.testing import CliRunner

from flightctl.cli.main import app, hoist_global_options
from flightctl.cli.output import table
from flightctl.config import read_dotenv
from flightctl.local.nginx import fill
from flightctl.platform.layout import Ports


def test_global_options_are_accepted_after_the_command() -> None:
    assert hoist_global_options(["status", "-o", "json"]) == ["-o", "json", "status"]
    assert hoist_global_options(["users", "get", "a@b.it", "--output=yaml", "--token", "t"]) == [
        "--output=yaml",
        "--token",
        "t",
        "users",
        "get",
        "a@b.it",
    ]
    assert hoist_global_options(["logs", "--", "-o"]) == ["logs", "--", "-o"]


def test_ports_never_use_standard_ones_and_never_collide() -> None:
    ports = Ports(18400).all()
    assert len(set(ports.values())) == len(ports)
    assert not {5432, 9092, 9090, 80, 443} & set(ports.values())


def test_table_renders_lists_and_missing_values() -> None:
    text = table([{"email": "a@b.it", "chat": None}, {"email": "c@d.it", "chat": "42"}])
    assert text.splitlines()[0].split() == ["EMAIL", "CHAT"]
    assert "-" in text.splitlines()[1] and "42" in text.splitlines()[2]
    assert table([]) == "(none)"


def test_template_fill_refuses_unknown_placeholders() -> None:
    assert fill("listen {{port}}; $host", port=1) == "listen 1; $host"
    with pytest.raises(KeyError):
        fill("{{missing}}")


def test_dotenv_reading(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("# c\nexport A=1\nB='two words'\n\nC\n")
    assert read_dotenv(tmp_path / ".env") == {"A": "1", "B": "two words"}


def test_bad_output_format_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["-o", "xml", "status"])
    assert result.exit_code == 2
