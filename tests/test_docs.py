"""The README's settings table names every setting the code reads."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV_READ = re.compile(r"""env_(?:str|bool|int|float|list)\(\s*["']([A-Z0-9_]+)["']""")


def test_every_control_plane_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    names = set()
    for path in (ROOT / "control_plane").rglob("*.py"):
        names.update(ENV_READ.findall(path.read_text()))
    assert names, "the settings reader pattern found nothing: update this test"
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert not missing, f"settings missing from the README table: {missing}"
