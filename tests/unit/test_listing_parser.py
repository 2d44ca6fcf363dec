"""The listing client's ListObjectsV2 parser gives exactly the dict botocore's own parser gives, for
every form a ListObjectsV2 answer takes (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html),
and leaves everything else (errors, other operations, answers it does not expect) to botocore."""

import random
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote, quote_plus
from xml.etree import ElementTree as ETree
from xml.sax.saxutils import escape

import boto3
import botocore.config
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError, RestXMLParser

from sagechain.adapters.clients import iso_timestamp, listing_session
from sagechain.adapters.listing_parser import FastListingParserFactory
from sagechain.adapters.s3 import S3ObjectStore

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
SHAPE = botocore.session.get_session().get_service_model("s3").operation_model("ListObjectsV2").output_shape
HOSTILE_KEYS = [
    "images/a.jpg",
    "images/with space.jpg",
    "images/plus+sign.jpg",
    "images/100%25 literal %.jpg",
    "images/<tag> & \"quotes\" 'apos'.jpg",
    "images/]]> cdata end.jpg",
    "images/café/naïve.JPG",
    "images/日本語/写真.png",
    "images/emoji 🐱.jpeg",
    "images/tab\there.jpg",
    "images/new\nline.jpg",
    "images/carriage\rreturn.jpg",
    "images/back\\slash.jpg",
    "images/semi;colon?query=1#frag.jpg",
    "images/.hidden.jpg",
    "images/folder/",
    "images/x" * 60 + ".jpg",
    "",
]


def _char_refs(text: str, rng: random.Random) -> str:
    """text as XML character data: entities escaped, sometimes as numeric references; control
    characters always as references (S3 writes them so, and a raw CR would be normalized away)."""
    out = []
    for char in text:
        if char in "\t\n\r" or (rng.random() < 0.1 and char not in "]"):
            out.append(f"&#{ord(char)};" if rng.random() < 0.5 else f"&#x{ord(char):X};")
        else:
            out.append(escape(char, {'"': "&quot;", "'": "&apos;"}))
    return "".join(out)


def _element(tag: str, text: str | None, rng: random.Random) -> str:
    if text is None or (text == "" and rng.random() < 0.5):
        return f"<{tag}/>"
    if text and rng.random() < 0.05 and "]]>" not in text and not set(text) & set("\t\n\r"):
        return f"<{tag}><![CDATA[{text}]]></{tag}>"
    return f"<{tag}>{_char_refs(text, rng)}</{tag}>"


def _contents(key: str, rng: random.Random) -> str:
    parts = [
        _element("Key", key, rng),
        _element("LastModified", rng.choice(["2026-11-25T00:00:00.000Z", "2009-10-12T17:50:30.123Z"]), rng),
        _element("ETag", '"d41d8cd98f00b204e9800998ecf8427e"', rng),
    ]
    for algorithm in rng.sample(["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"], rng.randint(0, 3)):
        parts.append(_element("ChecksumAlgorithm", algorithm, rng))
    if rng.random() < 0.5:
        parts.append(_element("ChecksumType", rng.choice(["COMPOSITE", "FULL_OBJECT"]), rng))
    parts.append(_element("Size", str(rng.choice([0, 1, 48_213, 5 * 2**40])), rng))
    if rng.random() < 0.3:
        owner = []
        if rng.random() < 0.5:
            owner.append(_element("DisplayName", "webfile", rng))
        if rng.random() < 0.8:
            owner.append(
                _element("ID", "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a", rng)
            )
        parts.append(f"<Owner>{''.join(owner)}</Owner>")
    if rng.random() < 0.8:
        parts.append(
            _element("StorageClass", rng.choice(["STANDARD", "GLACIER", "INTELLIGENT_TIERING"]), rng)
        )
    if rng.random() < 0.2:
        restore = [_element("IsRestoreInProgress", rng.choice(["true", "false", "", "True"]), rng)]
        if rng.random() < 0.5:
            restore.append(_element("RestoreExpiryDate", "2026-12-24T00:00:00.000Z", rng))
        parts.append(f"<RestoreStatus>{''.join(restore)}</RestoreStatus>")
    if rng.random() < 0.1:
        parts.append("<AFutureMember>kept out</AFutureMember>")
    if rng.random() < 0.1:
        rng.shuffle(parts)  # S3 keeps one order; botocore's dict has the model's whatever the XML's
    return "<Contents>" + "".join(parts) + "</Contents>"


def _page(rng: random.Random, *, encoded: bool) -> bytes:
    """A ListObjectsV2 answer with a random choice of every optional member."""
    keys = rng.sample(HOSTILE_KEYS, rng.randint(0, 6)) + [
        f"images/{i:05}.jpg" for i in range(rng.randint(0, 4))
    ]
    folders = [f"images/{name}/" for name in rng.sample(["a", "b b", "ç", "+", "%"], rng.randint(0, 3))]

    def value(text: str) -> str:
        return (quote_plus(text, safe="/") if rng.random() < 0.5 else quote(text)) if encoded else text

    truncated = rng.random() < 0.5
    members = [
        _element("Name", "bucket", rng),
        _element("Prefix", value(rng.choice(["", "images/", "images/ç "])), rng),
        _element("KeyCount", str(len(keys) + len(folders)), rng),
        _element("MaxKeys", "1000", rng),
        _element("IsTruncated", "true" if truncated else "false", rng),
    ]
    if rng.random() < 0.5:
        members.append(_element("Delimiter", "/", rng))
    if encoded:
        members.append(_element("EncodingType", "url", rng))
    if rng.random() < 0.3:
        members.append(_element("ContinuationToken", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=", rng))
    if truncated:
        members.append(
            _element("NextContinuationToken", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=", rng)
        )
    if rng.random() < 0.2:
        members.append(_element("StartAfter", value("images/a & b.jpg"), rng))
    members += [_contents(value(key), rng) for key in keys]
    members += [
        f"<CommonPrefixes>{_element('Prefix', value(folder), rng)}</CommonPrefixes>" for folder in folders
    ]
    if rng.random() < 0.3:
        rng.shuffle(members)
    separator = rng.choice(["", "\n", "\n  "])
    xmlns = rng.choice([f' xmlns="{NS}"', "", f' xmlns:s3="{NS}"'])
    declaration = rng.choice(['<?xml version="1.0" encoding="UTF-8"?>\n', ""])
    comment = "<!-- a comment -->" if rng.random() < 0.1 else ""
    body = separator.join(members)
    root = f"<ListBucketResult{xmlns}>{comment}{separator}{body}{separator}</ListBucketResult>"
    return (declaration + root).encode()


def _result(members: str) -> bytes:
    return f"<ListBucketResult>{members}</ListBucketResult>".encode()


def _answer(body: bytes, status: int = 200) -> dict[str, Any]:
    headers = {
        "x-amz-request-id": "4442587FB7D0A2F9",
        "x-amz-id-2": "host",
        "content-type": "application/xml",
    }
    return {
        "body": body,
        "headers": headers,
        "status_code": status,
        "context": {"operation_name": "ListObjectsV2"},
    }


def _exact(value: Any) -> Any:
    """value with every dict's key order and every scalar's type made part of equality."""
    if isinstance(value, dict):
        return [(key, _exact(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_exact(item) for item in value]
    if isinstance(value, ETree.Element):
        return ("element", value.tag, value.text)
    return (type(value).__name__, value)


def _both(response: dict[str, Any]) -> tuple[Any, Any]:
    stock = RestXMLParser(timestamp_parser=iso_timestamp).parse(dict(response), SHAPE)
    factory = FastListingParserFactory()
    factory.set_parser_defaults(timestamp_parser=iso_timestamp)
    fast = factory.create_parser("rest-xml").parse(dict(response), SHAPE)
    return _exact(stock), _exact(fast)


@pytest.mark.parametrize("encoded", [False, True])
def test_every_generated_page_parses_to_botocores_exact_dict(encoded: bool) -> None:
    rng = random.Random(20)  # noqa: S311 - reproducible pages, not secrets
    for _ in range(400):
        stock, fast = _both(_answer(_page(rng, encoded=encoded)))
        assert fast == stock


def test_a_full_page_of_a_thousand_keys_parses_to_botocores_exact_dict() -> None:
    rng = random.Random(1000)  # noqa: S311 - reproducible pages, not secrets
    contents = "".join(_contents(f"images/{i // 100:03}/img {i:07}.jpg", rng) for i in range(1000))
    top = "<Name>b</Name><IsTruncated>true</IsTruncated>"
    body = f'<ListBucketResult xmlns="{NS}">{top}{contents}</ListBucketResult>'
    stock, fast = _both(_answer(body.encode()))

    assert fast == stock
    assert len(dict(fast)["Contents"]) == 1000


@pytest.mark.parametrize(
    "body",
    [
        b"",  # a 200 with nothing: botocore gives no members
        b"<ListBucketResult/>",
        _result("<Contents><Key>a</Key><Key>b</Key></Contents>"),  # a repeated scalar
        _result("<IsTruncated>true</IsTruncated><IsTruncated>false</IsTruncated>"),
        _result("<Contents><Key>a<b>nested</b>tail</Key></Contents>"),
        _result("<Contents>text only</Contents><CommonPrefixes/>"),
        b"<AnotherRoot><KeyCount>3</KeyCount></AnotherRoot>",  # botocore does not check the root's name
        b'<?xml version="1.0" encoding="ISO-8859-1"?>' + _result("<Prefix>ç</Prefix>"),  # read as UTF-8
    ],
)
def test_unusual_answers_parse_as_botocore_parses_them(body: bytes) -> None:
    stock, fast = _both(_answer(body))

    assert fast == stock


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"<ListBucketResult><KeyCount>three</KeyCount></ListBucketResult>", ValueError),
        (b"<ListBucketResult><Contents><Size/></Contents></ListBucketResult>", ValueError),
        (b"<ListBucketResult><Contents><Key>cut short", ResponseParserError),
    ],
)
def test_answers_botocore_cannot_read_fail_as_botocore_fails(body: bytes, error: type[Exception]) -> None:
    factory = FastListingParserFactory()
    with pytest.raises(error):
        RestXMLParser().parse(_answer(body), SHAPE)
    with pytest.raises(error):
        factory.create_parser("rest-xml").parse(_answer(body), SHAPE)


# ---------------------------------------------------------------- through a client


class _Answers:
    """before-send: each request answered by the next (status, body), the requests counted."""

    def __init__(self, answers: list[tuple[int, bytes]]) -> None:
        self._answers = iter(answers)
        self.sent: list[str] = []

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.sent.append(request.url)
        status, body = next(self._answers)
        headers = {"x-amz-request-id": "4442587FB7D0A2F9", "x-amz-id-2": "host"}
        return AWSResponse(request.url, status, headers, _Raw(body))


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _client(session: boto3.session.Session, answers: _Answers) -> Any:
    client = session.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 3}),
    )
    client.meta.events.register("before-send.s3", answers)
    return client


def _stock_session() -> boto3.session.Session:
    session = botocore.session.get_session()
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=iso_timestamp)
    return boto3.session.Session(botocore_session=session)


def test_the_listing_client_answers_exactly_as_a_stock_client_url_decoding_included() -> None:
    rng = random.Random(7)  # noqa: S311 - reproducible pages, not secrets
    pages = [(200, _page(rng, encoded=rng.random() < 0.7)) for _ in range(60)]
    stock, fast = _Answers(pages), _Answers(pages)
    stock_client, fast_client = _client(_stock_session(), stock), _client(listing_session(), fast)

    for _ in pages:
        expected = stock_client.list_objects_v2(Bucket="bucket", Prefix="images/")
        assert _exact(fast_client.list_objects_v2(Bucket="bucket", Prefix="images/")) == _exact(expected)
    assert "encoding-type=url" in fast.sent[0]  # botocore asked for encoded keys, and decoded them


def test_a_decoded_listing_gives_the_keys_as_stored() -> None:
    keys = sorted(key for key in HOSTILE_KEYS if key)
    contents = "".join(f"<Contents><Key>{quote(key)}</Key><Size>{len(key)}</Size></Contents>" for key in keys)
    answers = _Answers([(200, _result(f"<EncodingType>url</EncodingType>{contents}"))])
    store = S3ObjectStore("bucket", listing_client=_client(listing_session(), answers))

    listed = list(store.iter_objects("x/"))  # no CommonPrefixes: one flat page

    assert [obj.key for obj in listed] == keys
    assert [obj.size for obj in listed] == [len(key) for key in keys]


@pytest.mark.parametrize(
    "bad",
    [
        b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
        b"<ListBucketResult><Contents><Key>cut sh",  # a connection dropped mid-answer
    ],
)
def test_a_200_that_is_an_error_or_cut_short_is_retried_as_botocore_retries_it(
    monkeypatch: pytest.MonkeyPatch, bad: bytes
) -> None:
    monkeypatch.setattr(time, "sleep", lambda _: None)  # botocore's backoff between attempts
    good = _result("<IsTruncated>false</IsTruncated><Contents><Key>a.jpg</Key><Size>3</Size></Contents>")
    answers = _Answers([(200, bad), (200, good)])

    page = _client(listing_session(), answers).list_objects_v2(Bucket="bucket")

    assert [item["Key"] for item in page["Contents"]] == ["a.jpg"]
    assert len(answers.sent) == 2
    failing = _Answers([(200, bad)] * 3)
    with pytest.raises(ClientError):
        _client(listing_session(), failing).list_objects_v2(Bucket="bucket")
    assert len(failing.sent) == 3


def test_errors_and_other_operations_are_botocores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda _: None)
    denied = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
    copied = (
        b"<CopyObjectResult><ETag>&quot;e&quot;</ETag><LastModified>2026-11-25T00:00:00.000Z</LastModified>"
    )
    copied += b"</CopyObjectResult>"
    answers = _Answers([(403, denied), (200, denied), (200, copied)])
    client = _client(listing_session(), answers)

    with pytest.raises(ClientError) as raised:
        client.list_objects_v2(Bucket="bucket")
    copy = client.copy_object(Bucket="bucket", Key="b", CopySource="bucket/a")

    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    # CopyObject's 200 <Error> is still turned into a retry by botocore's own check.
    assert len(answers.sent) == 3
    assert copy["CopyObjectResult"]["ETag"] == '"e"'
    assert isinstance(copy["CopyObjectResult"]["LastModified"], datetime)
