"""The image build context with a wheelhouse: exactly the pinned versions' wheels that run in
the image (CPython 3.11, glibc Linux), hard-linked into wheels/; what is missing is named, and
fetched with `pip download` for the image's platform."""

from __future__ import annotations

import itertools
import os
import zipfile
from pathlib import Path

import pytest

from flightctl import deploy
from flightctl.deploy import images


def fill(directory: Path, extra: tuple[str, ...] = ()) -> dict[str, str]:
    """A wheel file per pin (py3-none-any), and ``extra`` files; returns the pins."""
    directory.mkdir(parents=True, exist_ok=True)
    pins = images.pins()
    for name, version in pins.items():
        (directory / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(b"wheel")
    for name in extra:
        (directory / name).write_bytes(b"other")
    return pins


def test_the_pins_are_the_constraints_the_image_installs(tmp_path: Path) -> None:
    context = images.write_context(tmp_path / "context")
    constraints = (context / "constraints.txt").read_text().split()
    assert constraints == [f"{name}=={version}" for name, version in sorted(images.pins().items())]
    assert {"flask", "sqlalchemy", "psycopg-binary", "grpcio", "kafka-python"} <= set(images.pins())
    assert "flightctl-platform" not in images.pins(), "the package itself comes from dist/"


def test_without_a_wheelhouse_wheels_is_empty(tmp_path: Path) -> None:
    context = images.write_context(tmp_path / "context")
    assert sorted(p.name for p in context.iterdir()) == [
        "Dockerfile",
        "constraints.txt",
        "dist",
        "requirements.txt",
        "wheels",
    ]
    assert list((context / "wheels").iterdir()) == []
    (wheel,) = (context / "dist").iterdir()
    with zipfile.ZipFile(wheel) as archive:
        assert "flightctl/deploy/Dockerfile" in archive.namelist()


def test_the_wheelhouse_gives_exactly_the_fitting_pinned_wheels(tmp_path: Path) -> None:
    pins = images.pins()
    foreign = (
        "flask-0.1-py3-none-any.whl",  # another version
        f"psycopg_binary-{pins['psycopg-binary']}-cp312-cp312-manylinux_2_17_x86_64.whl",  # another Python
        f"psycopg_binary-{pins['psycopg-binary']}-cp311-cp311-musllinux_1_2_x86_64.whl",  # musl, not glibc
        f"psycopg_binary-{pins['psycopg-binary']}-cp311-cp311-macosx_11_0_arm64.whl",  # macOS
        f"grpcio-{pins['grpcio']}-cp311-cp311-manylinux_2_39_x86_64.whl",  # newer glibc than bookworm's
        f"grpcio-{pins['grpcio']}-cp311-cp311-manylinux_2_17_aarch64.whl",  # another architecture
        "notes.txt",
    )
    wheelhouse = tmp_path / "wheelhouse"
    fill(wheelhouse, foreign)
    context = images.write_context(tmp_path / "context", wheelhouse, arch="x86_64")
    wheels = sorted(p.name for p in (context / "wheels").iterdir())
    assert len(wheels) == len(pins)
    assert not set(foreign) & set(wheels)
    sample = context / "wheels" / wheels[0]
    assert os.stat(sample).st_ino == os.stat(wheelhouse / wheels[0]).st_ino, "hard-linked, not copied"


def test_a_missing_wheel_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    pins = fill(wheelhouse)
    (wheelhouse / f"flask-{pins['flask']}-py3-none-any.whl").unlink()
    (wheelhouse / f"psycopg_binary-{pins['psycopg-binary']}-py3-none-any.whl").unlink()
    (wheelhouse / f"psycopg_binary-{pins['psycopg-binary']}-cp312-cp312-manylinux2014_x86_64.whl").write_bytes(b"")
    assert images.missing_wheels(wheelhouse, "x86_64") == [
        f"flask=={pins['flask']}",
        f"psycopg-binary=={pins['psycopg-binary']}",
    ]
    with pytest.raises(images.WheelsMissing) as error:
        images.write_context(tmp_path / "context", wheelhouse, arch="x86_64")
    assert error.value.missing == images.missing_wheels(wheelhouse, "x86_64")
    assert f"flask=={pins['flask']}" in error.value.message
    assert not (tmp_path / "context").exists()
    assert images.missing_wheels(tmp_path / "nowhere") == [f"{n}=={v}" for n, v in sorted(pins.items())]


@pytest.mark.parametrize(
    ("filename", "fits"),
    [
        ("attrs-26.1.0-py3-none-any.whl", True),
        ("rfc3339_validator-0.1.4-py2.py3-none-any.whl", True),
        ("cryptography-50.0.2-cp311-abi3-manylinux_2_34_x86_64.whl", True),
        ("protobuf-7.36.2-cp310-abi3-manylinux2014_x86_64.whl", True),
        ("pydantic_core-2.50.5-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl", True),
        ("charset_normalizer-3.5.3-cp311-cp311-manylinux1_x86_64.manylinux_2_28_x86_64.whl", True),
        ("ruff-0.17.6-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", True),
        ("built_here-1.0-cp311-cp311-linux_x86_64.whl", True),
        ("with_build-1.0-1-py3-none-any.whl", True),
        ("future_abi3-1.0-cp312-abi3-manylinux_2_17_x86_64.whl", False),
        ("newer-1.0-cp311-cp311-manylinux_2_38_x86_64.whl", False),
        ("py2only-1.0-py2-none-any.whl", False),
        ("windows-1.0-cp311-cp311-win_amd64.whl", False),
        ("pypy-1.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl", False),
        ("not-a-wheel.tar.gz", False),
    ],
)
def test_which_wheels_run_in_the_image(filename: str, fits: bool) -> None:
    assert (images.wheel_fits(filename, "x86_64") is not None) == fits


def test_the_image_platform_is_the_dockerfiles_base() -> None:
    """IMAGE_PYTHON and IMAGE_GLIBC describe the Dockerfile's default PYTHON_IMAGE."""
    (line,) = [
        line for line in deploy.path("Dockerfile").read_text().splitlines() if line.startswith("ARG PYTHON_IMAGE=")
    ]
    image = line.partition("=")[2]
    assert image.startswith("python:{}.{}.".format(*images.IMAGE_PYTHON))
    assert image.endswith("-bookworm") and images.IMAGE_GLIBC == (2, 36)  # Debian 12's glibc
    assert images.image_arch("amd64") == images.image_arch("x86_64") == "x86_64"
    assert images.image_arch("arm64") == "aarch64"


def test_the_download_fetches_only_wheels_for_the_image(tmp_path: Path) -> None:
    argv = images.download_command(tmp_path, ["flask==3.1.3", "grpcio==1.85.3"], arch="aarch64")
    assert argv[1:4] == ["-m", "pip", "download"]
    assert {"--only-binary=:all:", "--no-deps"} <= set(argv)
    options = list(itertools.pairwise(argv))
    assert ("--implementation", "cp") in options and ("--python-version", "3.11") in options
    assert {value for option, value in options if option == "--abi"} == {"cp311", "abi3", "none"}
    platforms = [value for option, value in options if option == "--platform"]
    assert platforms[0] == "manylinux_2_36_aarch64" and "manylinux2014_aarch64" in platforms
    assert all(images.wheel_fits(f"x-1-cp311-cp311-{tag}.whl", "aarch64") for tag in platforms)
    assert argv[argv.index("--dest") + 1] == str(tmp_path)
    assert argv[-2:] == ["flask==3.1.3", "grpcio==1.85.3"]


def test_the_default_wheelhouse_is_the_one_make_bootstrap_fills(tmp_path: Path) -> None:
    assert images.default_wheelhouse({"FLIGHTCTL_WHEELHOUSE": str(tmp_path)}) == tmp_path
    assert images.default_wheelhouse({}) == Path.home() / ".cache" / "flightctl" / "wheelhouse"
    bootstrap = (Path(__file__).resolve().parents[3] / "scripts" / "bootstrap.sh").read_text()
    assert 'wheelhouse="${FLIGHTCTL_WHEELHOUSE:-$HOME/.cache/flightctl/wheelhouse}"' in bootstrap
