"""``symcnn reproduce``: its options are checked before any work, and a missing extra is
named."""

import importlib

import pytest

from symcnn.cli import options

from .test_cli import refused


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "--seed must be an integer >= 0, got -1"),
    (["--out", "/nonexistent/dir/out"], "the directory /nonexistent/dir does not exist"),
    (["--seed", "x"], "invalid int value"),
])
def test_bad_options_are_refused(capsys, args, message):
    refused(capsys, ["reproduce", "--quiet", *args], message)


def test_an_output_file_is_no_directory(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    refused(capsys, ["reproduce", "--out", str(tmp_path / "file")], "give a directory")


def test_a_missing_extra_is_named(monkeypatch):
    def missing(name):
        raise ModuleNotFoundError(f"No module named {name!r}", name="matplotlib")

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(OSError, match=r"symcnn reproduce needs matplotlib: pip install "
                                      r"'symcnn\[reproduce\]'"):
        options.optional("symcnn.reproduce", "reproduce", "symcnn reproduce")


def test_our_own_missing_module_is_not_blamed_on_an_extra():
    with pytest.raises(ModuleNotFoundError, match="symcnn.nonexistent"):
        options.optional("symcnn.nonexistent", "reproduce", "symcnn reproduce")
