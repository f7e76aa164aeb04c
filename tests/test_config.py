import pytest
import yaml

from gdfnn.config import (
    Config,
    config_from_dict,
    defaults_yaml,
    load_config,
    write_resolved_config,
)
from gdfnn.errors import ConfigError


def test_defaults_documented_and_parseable():
    text = defaults_yaml()
    values = yaml.safe_load(text)
    assert Config.model_validate(values) == Config()
    for section, field in Config.model_fields.items():
        for key in field.annotation.model_fields:
            assert f"  {key}: " in text, (section, key)
    assert "force_coeff: 0.1  # mu" in text and "b: 150.0" in text


@pytest.mark.parametrize(
    ("values", "message"),
    [({"training": {"learnig_rate": 1e-3}}, "training: unknown key 'learnig_rate'; did you mean "
      "'learning_rate'"),
     ({"modle": {}}, "unknown key 'modle'; did you mean 'model'"),
     ({"gdf": {"sigma": -1.0}}, "sigma must be positive"),
     ({"gdf": {"modifier": "cubic"}}, "gdf.modifier"),
     ({"training": {"epochs": -3}}, "training.epochs"),
     ({"data": {"valid_rate": 1.5}}, "data.valid_rate")],
)
def test_bad_configs_are_one_line_errors(values, message):
    with pytest.raises(ConfigError, match=message) as info:
        config_from_dict(values, source="c.yaml")
    assert "\n" not in str(info.value) and str(info.value).startswith("c.yaml: ")


def test_round_trip_and_relative_paths(tmp_path):
    (tmp_path / "run").mkdir()
    path = tmp_path / "run" / "c.yaml"
    path.write_text("data:\n  train: ['../d/x.xyz ::2']\ngdf:\n  enabled: true\n  sigma: {Si: 0.05}\n"
                    "output:\n  directory: out\n")
    config = load_config(path)
    assert config.data.train == [f"{tmp_path}/d/x.xyz ::2"]
    assert config.output.directory == f"{tmp_path}/run/out"
    assert config.gdf.sigma == {"Si": 0.05} and config.training.force_coeff == 0.1
    written = write_resolved_config(config, tmp_path / "res")
    assert load_config(written) == config


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(bad)


def test_shipped_examples_are_valid():
    from pathlib import Path

    examples = sorted((Path(__file__).parents[1] / "examples").glob("*.yaml"))
    assert examples
    for path in examples:
        config = load_config(path)  # unknown keys or bad values would raise
        assert config.data.train or config.learn.start, path
        assert config.output.directory.startswith(str(path.parents[1]))
        for entry in (*config.learn.structures, *config.learn.start, *config.data.test):
            assert entry.startswith("dataset:") or Path(entry.split()[0]).is_file(), entry
