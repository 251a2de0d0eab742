"""The hand-written send-body check agrees with the serializer that documents it."""

import pytest
from django.http import QueryDict

from control_plane.core.errors import ValidationFailed
from control_plane.messaging.apis import SendInput
from control_plane.messaging.inputs import parse_send

LONG = "x" * 33

# Bodies both must take or refuse alike: (body, the field a refusal names or None).
CASES = [
    ({"to": "15550000002", "text": "hi"}, None),
    ({"to": 15550000002, "text": "hi"}, None),  # a number is taken as text, as DRF does
    ({"to": "  +1 555 000 0002 ", "text": "  padded  "}, None),
    ({"to": "15550000002", "type": "image", "media": {"url": "https://example.com/a.png"}}, None),
    (
        {"to": "15550000002", "type": "document", "media": {"data": "aGk=", "mimetype": "application/pdf"}},
        None,
    ),
    ({"to": "15550000002", "text": "", "caption": ""}, None),
    ({"to": "15550000002", "text": "hi", "unknown": "ignored"}, None),
    ({"text": "hi"}, "to"),
    ({"to": "", "text": "hi"}, "to"),
    ({"to": "   ", "text": "hi"}, "to"),
    ({"to": LONG, "text": "hi"}, "to"),
    ({"to": True, "text": "hi"}, "to"),
    ({"to": ["15550000002"], "text": "hi"}, "to"),
    ({"to": {"n": 1}, "text": "hi"}, "to"),
    ({"to": "15550000002", "type": "sticker"}, "type"),
    ({"to": "15550000002", "type": ["text"]}, "type"),
    ({"to": "15550000002", "text": 12}, None),
    ({"to": "15550000002", "text": ["a"]}, "text"),
    ({"to": "15550000002", "text": "x" * 65537}, "text"),
    ({"to": "15550000002", "caption": "x" * 4097}, "caption"),
    ({"to": "15550000002", "type": "image", "media": "https://example.com/a.png"}, "media"),
    ({"to": "15550000002", "type": "image", "media": {"mimetype": "m" * 101, "data": "aGk="}}, "media"),
    ({"to": "15550000002", "type": "image", "media": {"data": ""}}, "media"),
    ({"to": "15550000002", "type": "image", "media": {"filename": "f" * 256, "data": "aGk="}}, "media"),
    ({"to": None, "text": "hi"}, "to"),
    ({"to": "15550000002", "type": None}, "type"),
    ({"to": "15550000002", "type": ""}, "type"),
    ({"to": "15550000002", "text": None}, "text"),
    ({"to": "15550000002", "text": "hi", "caption": None}, "caption"),
    ({"to": "15550000002", "type": "image", "media": None}, "media"),
    ({"to": "15550000002", "type": "image", "media": {"url": None}}, "media"),
    ({"to": "15550000002", "type": "image", "media": ["https://example.com/a.png"]}, "media"),
    ({"to": "15550000002", "text": "lone \ud83d surrogate"}, "text"),
    ({"to": "15550000002", "text": "a NUL \x00 inside"}, "text"),
    ({"to": "15550000002", "type": "image", "media": {"url": "http://[::1"}}, "media"),
    ({"to": "15550000002", "type": "image", "media": {"url": "not a url"}}, "media"),
    ({"to": "15550000002", "type": "image", "media": {"url": "ftp://example.com/a.png"}}, None),
]


def _plain(errors):
    """DRF's error detail as plain dicts, lists and strings."""
    if isinstance(errors, dict):
        return {key: _plain(value) for key, value in errors.items()}
    if isinstance(errors, list):
        return [_plain(value) for value in errors]
    return str(errors)


def _serializer_verdict(body):
    serializer = SendInput(data=body)
    if serializer.is_valid():
        return None, serializer.validated_data
    return _plain(serializer.errors), None


def _parser_verdict(body):
    try:
        parsed = parse_send(body)
    except ValidationFailed as exc:
        return exc.details["fields"], None
    return None, parsed


@pytest.mark.parametrize(("body", "field"), CASES)
def test_parse_send_takes_and_refuses_what_the_documented_serializer_does(body, field):
    refused_by_serializer, valid = _serializer_verdict(body)
    refused_by_parser, parsed = _parser_verdict(body)
    assert refused_by_parser == refused_by_serializer  # the same fields, in the same words
    assert (sorted(refused_by_parser) if refused_by_parser else None) == ([field] if field else None)
    if valid is not None:
        assert parsed.to == valid["to"]
        assert parsed.kind == valid["type"]
        assert parsed.text == valid.get("text")
        assert parsed.caption == valid.get("caption")
        assert parsed.media == dict(valid.get("media", {}))


def test_a_refusal_names_each_field_and_reads_as_a_sentence():
    with pytest.raises(ValidationFailed) as refused:
        parse_send({"to": "", "type": "sticker", "media": {"mimetype": "m" * 101}})
    fields = refused.value.details["fields"]
    assert set(fields) == {"to", "type", "media"}
    assert fields["media"] == {"mimetype": ["Ensure this field has no more than 100 characters."]}
    assert refused.value.message.startswith("Invalid input: to: This field may not be blank.")


def test_a_body_that_is_not_an_object_is_refused_in_drfs_words():
    with pytest.raises(ValidationFailed) as refused:
        parse_send(["to", "text"])
    serializer = SendInput(data=["to", "text"])
    assert not serializer.is_valid()
    assert refused.value.details["fields"] == _plain(serializer.errors)


def _form(**fields):
    form = QueryDict(mutable=True)
    form.update(fields)
    return form


@pytest.mark.parametrize(
    "fields",
    [
        {"to": "15550000002", "type": "", "text": "hi"},  # an empty optional field is left out
        {"to": "15550000002", "type": "image", "media.url": ""},
        {"to": "15550000002", "type": "image", "media.url": "https://example.com/a.png", "caption": ""},
        {"to": "", "text": "hi"},
        {"to": "15550000002", "type": "sticker"},
        {"text": "hi"},
    ],
)
def test_a_form_body_is_read_as_drf_reads_it(fields):
    refused_by_serializer, valid = _serializer_verdict(_form(**fields))
    refused_by_parser, parsed = _parser_verdict(_form(**fields))
    assert refused_by_parser == refused_by_serializer
    if valid is not None:
        assert (parsed.to, parsed.kind, parsed.caption) == (valid["to"], valid["type"], valid.get("caption"))
        assert parsed.media == dict(valid.get("media", {}))


def test_form_fields_and_an_upload_are_read_from_a_multipart_body():
    form = QueryDict(mutable=True)
    form.update({"to": "15550000002", "type": "document", "caption": "the report", "media.filename": "r.pdf"})
    upload = object()
    parsed = parse_send(form, {"file": upload})
    assert (parsed.to, parsed.kind, parsed.caption, parsed.upload) == (
        "15550000002",
        "document",
        "the report",
        upload,
    )
    assert parsed.media == {"filename": "r.pdf"} and parsed.has_media
