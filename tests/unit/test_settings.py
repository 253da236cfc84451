import pytest

from service.settings import ConfigError, Settings


def test_defaults_and_values_from_environment():
    s = Settings.from_env({"KUNDVAL_PORT": "9001", "KUNDVAL_LOG_LEVEL": "debug", "PATH": "/bin"})
    assert s.port == 9001
    assert s.log_level == "debug"
    assert s.database_url is None
    assert s.host == "127.0.0.1"


def test_overrides_win_over_environment():
    s = Settings.from_env({"KUNDVAL_PORT": "9001"}, port=9002, host=None)
    assert s.port == 9002
    assert s.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"KUNDVAL_PORT": "eighty"}, "KUNDVAL_PORT"),
        ({"KUNDVAL_PORT": "70000"}, "KUNDVAL_PORT"),
        ({"KUNDVAL_LOG_LEVEL": "loud"}, "KUNDVAL_LOG_LEVEL"),
        ({"KUNDVAL_MAX_BODY_BYTES": "-1"}, "KUNDVAL_MAX_BODY_BYTES"),
        ({"KUNDVAL_PORTT": "8000"}, "KUNDVAL_PORTT"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://s@h/d", "KUNDVAL_MIGRATION_URL": "owner"}, "KUNDVAL_MIGRATION_URL"),
        ({"KUNDVAL_MIGRATION_URL": "postgresql://o@h/d"}, "KUNDVAL_MIGRATION_URL"),
        ({"KUNDVAL_POOL_MIN": "5", "KUNDVAL_POOL_MAX": "2"}, "KUNDVAL_POOL_MIN"),
    ],
)
def test_malformed_or_unknown_values_name_the_variable(env, named):
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(env)


def test_settings_are_frozen():
    s = Settings.from_env({})
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]


def test_a_value_outside_a_fixed_set_names_the_allowed_ones():
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"KUNDVAL_LOG_FORMAT": "xml"})
    assert str(refused.value) == "KUNDVAL_LOG_FORMAT: Invalid enum value 'xml' (allowed: auto, json, console)"
