import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_every_setting_read_by_settings_py_is_documented_in_env_example() -> None:
    source = (ROOT / "stammtisch" / "settings.py").read_text()
    names = set(re.findall(r'env_\w+\(\s*"([A-Z0-9_]+)"', source))
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert names, "no settings found: has the settings helper naming changed?"
    assert not names - documented, f"undocumented in .env.example: {sorted(names - documented)}"
