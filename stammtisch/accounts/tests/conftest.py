import pytest


@pytest.fixture(autouse=True)
def _english(settings) -> None:  # type: ignore[no-untyped-def]
    """Assertions read English text; a test about languages switches explicitly."""
    settings.LANGUAGE_CODE = "en"
