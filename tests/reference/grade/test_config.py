"""``grading.toml``: what it may say, and one line naming the key when it is wrong."""

import pytest

from reference.grade import grade
from reference.grade.config import ConfigError, load_config, parse_config
from reference.kinds import CHECKED_KINDS
from tests.reference.test_styles import EXAMPLES


def test_a_config_is_read(tmp_path):
    path = tmp_path / "grading.toml"
    path.write_text('seed = 3\nrandom_configurations = 0\ntime_limit = 7\n'
                    'memory_limit = 300\nprocesses = 9\n[kinds.conv2d]\npoints = 10\n'
                    'hidden = ["stride > 1"]\n[kinds.relu]\n')
    config = load_config(path)
    assert list(config.kinds) == ["conv2d", "relu"]
    assert config.kinds["conv2d"].hidden == ("stride > 1",)
    assert config.kinds["relu"].points == 1.0 and config.max_score == 11.0
    assert (config.seed, config.random_configurations) == (3, 0)
    limits = config.limits
    assert (limits.wall_seconds, limits.cpu_seconds, limits.memory_bytes,
            limits.processes) == (7.0, 7, 300 * 2**20, 9)


def test_without_kinds_every_kind_is_expected():
    assert list(parse_config({}).kinds) == list(CHECKED_KINDS)


@pytest.mark.parametrize(("data", "words"), [
    ({"sed": 1}, "unknown key 'sed'"),
    ({"seed": -1}, "seed must be an integer >= 0"),
    ({"time_limit": 0}, "time_limit must be an integer >= 1"),
    ({"kinds": {"conv3d": {}}}, "unknown kind [kinds.conv3d]"),
    ({"kinds": {"relu": {"points": "ten"}}}, "[kinds.relu] points must be a number"),
    ({"kinds": {"relu": {"pts": 1}}}, "[kinds.relu]: unknown key 'pts'"),
    ({"kinds": {"relu": {"hidden": ["nope"]}}}, "no configuration named 'nope'"),
    ({"kinds": {"relu": {"exclude": "one example"}}}, "exclude must be a list"),
    ({"kinds": {"relu": {"exclude": ["one example"], "hidden": ["one example"]}}},
     "'one example' is both hidden and excluded"),
    ({"random_configurations": 0, "kinds": {"relu": {"exclude": [
        "the plainest", "exact zeros", "exact zeros, 4-D", "4-D input", "one example",
        "non-contiguous input"]}}}, "exclude leaves no configuration to check"),
    ({"kinds": {}}, "[kinds] must name at least one kind"),
])
def test_a_wrong_config_is_one_line_naming_the_key(data, words):
    with pytest.raises(ConfigError) as err:
        parse_config(data, "g.toml")
    assert str(err.value).startswith("g.toml: ") and words in str(err.value)
    assert "\n" not in str(err.value)


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "grading.toml"
    path.write_text("seed = = 1\n")
    with pytest.raises(ConfigError, match=r"grading\.toml: not valid TOML"):
        load_config(path)


def test_excluded_configurations_are_neither_checked_nor_scored(tmp_path):
    """A CS231n convolution (tied bias only) graded with the configurations about other
    bias modes excluded gets full marks; without the exclusion it loses them."""
    subs = tmp_path / "subs"
    subs.mkdir()
    source = (EXAMPLES / "cs231n_layers.py").read_text()
    (subs / "student.py").write_text(source)
    other_bias = ["untied bias", "untied bias, batch > 1", "stride, padding and untied bias",
                  "the plain first layer", "the plain first layer, not square"]
    base = {"random_configurations": 0, "time_limit": 30}
    full = grade(subs, tmp_path / "a", parse_config(
        base | {"kinds": {"conv2d": {"points": 10, "exclude": other_bias}}}), jobs=1)
    plain = grade(subs, tmp_path / "b", parse_config(
        base | {"kinds": {"conv2d": {"points": 10}}}), jobs=1)
    assert full.submissions[0].kinds[0].points == 10.0
    assert plain.submissions[0].kinds[0].points < 10.0


def test_a_configuration_passes_where_nothing_compared_disagrees(tmp_path):
    """CS231n's batch norm does not differentiate eval mode: those quantities are not
    compared, and each configuration it takes still passes, for full marks."""
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "student.py").write_text((EXAMPLES / "cs231n_norm.py").read_text())
    result = grade(subs, tmp_path / "out", parse_config(
        {"random_configurations": 0, "time_limit": 30, "kinds": {"batchnorm1d": {}}}), jobs=1)
    kind = result.submissions[0].kinds[0]
    assert (kind.verdict, kind.passed, kind.points) == ("passed", kind.total, 1.0)


def test_declared_classes_are_graded_through_their_declarations(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "student.py").write_text((EXAMPLES / "tutorial_layers.py").read_text())
    declared = {"FullyConnected": {"kind": "dense", "args": "in_features, out_features",
                                   "weight": "W", "bias": "b", "grad_weight": "dW",
                                   "grad_bias": "db", "weight_layout": "(in, out)",
                                   "bias_layout": "(out, 1)", "grads_averaged": "true"}}
    config = parse_config({"random_configurations": 0, "time_limit": 30,
                           "kinds": {"dense": {}}, "declare": declared})
    kind = grade(subs, tmp_path / "out", config, jobs=1).submissions[0].kinds[0]
    assert (kind.verdict, kind.points) == ("passed", 1.0)
    assert kind.implementation == "FullyConnected"


@pytest.mark.parametrize(("declare", "words"), [
    ({"X": {"weight": "W"}}, "[declare.X] needs kind = one of"),
    ({"X": {"kind": "dense", "colour": "red"}}, "[declare.X] unknown declaration key 'colour'"),
])
def test_a_wrong_declaration_is_one_line(declare, words):
    with pytest.raises(ConfigError) as err:
        parse_config({"declare": declare}, "g.toml")
    assert words in str(err.value) and "\n" not in str(err.value)
