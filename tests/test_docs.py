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


def test_the_readme_signature_recipe_verifies_a_real_signature():
    """The receiver code customers copy from the README must accept what we send."""
    import re

    from control_plane.webhooks.signing import sign

    readme = (ROOT / "README.md").read_text()
    block = re.search(r"\*\*Verifying the signature.*?```python\n(.*?)```", readme, re.S)
    assert block, "the README lost its signature recipe"
    namespace: dict = {}
    exec(block.group(1), namespace)  # our own README, to prove the recipe works
    body = b'{"event":"message.received"}'
    header = sign(secret="whsec_test", body=body)
    assert namespace["verify"]("whsec_test", body, header)
    assert not namespace["verify"]("whsec_other", body, header)
    assert not namespace["verify"]("whsec_test", body + b" ", header)
