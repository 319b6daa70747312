"""One preset mechanism for every strategy: a Config means the same however it is built, and every
space's profile gives every strategy the settings it needs."""

from __future__ import annotations

import dataclasses

import pytest

from a2v_jax import cli, presets
from a2v_jax.search import methods
from a2v_jax.search.__main__ import run_parser
from a2v_jax.search.api import SearchSpec
from a2v_jax.search.strategy import NEED_NAMES
from a2v_jax.spaces import SPACE_NAMES


@pytest.mark.parametrize("name", list(methods.METHODS))
def test_a_config_means_the_same_however_it_is_built(name):
    module = methods.get_method(name)
    presets.check_table(module.QUIRKS, module.__name__)
    assert module.NEEDS <= set(NEED_NAMES) and module.TITLE
    for preset in presets.PRESETS:
        assert module.Config(preset=preset) == methods.make_config(name, "nb201", preset)
        for space in SPACE_NAMES:  # every profile resolves every published setting
            built = methods.make_config(name, space, preset)
            assert built == module.Config(space=space, preset=preset)
            assert all(getattr(built, f.name) is not None for f in dataclasses.fields(built)
                       if f.metadata.get("published") or f.metadata.get("quirk"))
            switches = presets.quirk_values(module.QUIRKS, preset, space)
            assert {k: getattr(built, k) for k in switches} == switches
        args = run_parser().parse_args(["--method", name, "--preset", preset, "--out", "x"])
        spec = cli.from_args(SearchSpec, args)
        assert methods.make_config(spec.method, spec.space, spec.preset, **spec.overrides) == module.Config(preset=preset)


def test_switches_stay_overridable_and_names_are_checked():
    rl = methods.get_method("rl")
    assert rl.Config(preset="fixed", skip_nearest=True).skip_nearest is True
    assert rl.Config(preset="reference", space="nb101").skip_nearest is False  # the NB101 script does not skip
    with pytest.raises(methods.UnknownMethodError, match="choose one of rl, bo, rs, re"):
        methods.get_method("dngo")
    with pytest.raises(ValueError, match="has no field"):
        methods.make_config("rs", "nb201", "fixed", baseline=0.3)
    with pytest.raises(presets.UnknownPresetError, match="choose one of reference, fixed"):
        methods.make_config("rs", "nb201", "published")
