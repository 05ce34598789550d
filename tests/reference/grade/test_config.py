"""``grading.toml``: what it may say, and one line naming the key when it is wrong."""

import pytest

from reference.grade.config import ConfigError, load_config, parse_config
from reference.kinds import CHECKED_KINDS


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
