"""One preset mechanism: tables resolve the same way however a settings object is built."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from a2v_jax import cli, presets

QUIRKS = {
    "reference": {"skip": presets.only_on("nb201"), "repeat": True},
    "fixed": {"skip": False, "repeat": False},
}


@dataclasses.dataclass(frozen=True)
class Settings:
    space: str = cli.option("nb201", "space")
    preset: str = cli.option("fixed", "preset", choices=presets.PRESETS)
    rate: float = cli.option(0.5, "a rate")
    steps: int | None = cli.option(None, "steps")
    skip: bool | None = cli.option(None, "quirk: skip")
    repeat: bool | None = None

    def __post_init__(self):
        presets.check_preset(self.preset)
        presets.resolve_quirks(self, QUIRKS, self.space)


def test_quirks_resolve_per_preset_and_space_and_stay_overridable():
    assert Settings(preset="reference").skip is True and Settings(preset="reference").repeat is True
    assert Settings(preset="reference", space="nb101").skip is False
    assert Settings().skip is False and Settings().repeat is False
    assert Settings(preset="fixed", skip=True).skip is True
    with pytest.raises(ValueError, match="unknown preset 'refrence'; choose one of reference, fixed"):
        Settings(preset="refrence")
    assert presets.quirk_differences(QUIRKS, "nb201") == {"skip": (True, False), "repeat": (True, False)}
    assert presets.quirk_differences(QUIRKS, "nb101") == {"repeat": (True, False)}
    presets.check_table(QUIRKS, "test")
    with pytest.raises(TypeError, match="different switches"):
        presets.check_table({"reference": {"a": 1}, "fixed": {"b": 1}}, "bad")


def test_command_line_defaults_come_from_the_dataclass():
    p = argparse.ArgumentParser()
    cli.add_arguments(p, Settings)
    assert cli.from_args(Settings, p.parse_args([])) == Settings()
    got = cli.from_args(Settings, p.parse_args(["--preset", "reference", "--no-skip", "--steps", "3"]))
    assert got == Settings(preset="reference", skip=False, steps=3)
    assert "(default: 0.5)" in p.format_help()
    with pytest.raises(SystemExit):
        p.parse_args(["--rate", "abc"])


def test_assignments_are_typed_by_the_field_they_set():
    got = cli.parse_assignments(["rate=0.25", "steps=None", "skip=yes"], Settings)
    assert got == {"rate": 0.25, "steps": None, "skip": True}
    with pytest.raises(ValueError, match="rate: rate expects a number, got 'abc'"):
        cli.parse_assignments(["rate=abc"], Settings)
    with pytest.raises(ValueError, match="has no field 'rat'"):
        cli.parse_assignments(["rat=1"], Settings)
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        cli.parse_assignments(["rate"], Settings)
