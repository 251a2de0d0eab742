def test_settings_load(settings):
    assert settings.WAGATE_ENV == "test"
