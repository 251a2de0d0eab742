"""The SSRF guard refuses what it cannot parse with a 400, never a crash."""

import pytest

from control_plane.core.errors import ValidationFailed
from control_plane.core.outbound import check_url


@pytest.mark.parametrize("url", ["http://[::1", "http://example.com:99999/x", "http://example.com:port/"])
def test_a_url_that_cannot_be_parsed_is_refused_in_the_envelope(url):
    with pytest.raises(ValidationFailed) as refused:
        check_url(url, field="media")
    assert refused.value.status == 400
    assert refused.value.details == {"fields": {"media": ["not a valid URL"]}}
