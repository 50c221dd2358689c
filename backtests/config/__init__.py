"""Study configuration: typed models, YAML loading, cross-field checks."""

from backtests.config.loader import ConfigSource, LoadedConfig, json_schema, load_config
from backtests.config.model import StudyConfig

__all__ = ["ConfigSource", "LoadedConfig", "StudyConfig", "json_schema", "load_config"]
