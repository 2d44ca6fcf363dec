"""ListObjectsV2 answers parsed without botocore's generic shape walk; every other answer by botocore.

A 1,000-key page is about 9,000 XML elements. botocore reads each page twice (its S3 "200 error"
check builds the whole tree once, its parser again) and then walks every element through its
generic shape machinery (a dict of child nodes per element, a namespace regex per tag, a handler
looked up by name per value): in a listing of millions of keys that is most of its CPU.
FastListingParser gives ListObjectsV2's answer exactly the dict botocore gives (same members,
values, types and order), from a plan compiled once from botocore's own model of the output
shape, on the tree the 200-error check already built; everything else stays botocore's: other
operations, errors (status >= 301 is parsed before _do_parse), an output shape with a member the
plan cannot express, and any answer the fast walk does not expect (a repeated scalar, a bad number,
...: botocore then parses it again and answers, or raises, as it always does). The after-call
handlers (the `EncodingType=url` decoding botocore asks for and undoes) run on the dict as before.

The answer's form: https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
(ListBucketResult: IsTruncated, Contents (Key, LastModified, ETag, ChecksumAlgorithm one element
per algorithm, ChecksumType, Size, StorageClass, Owner, RestoreStatus), Name, Prefix, Delimiter,
MaxKeys, CommonPrefixes, EncodingType, KeyCount, ContinuationToken, NextContinuationToken,
StartAfter; x-amz-request-charged is a header).
"""

import re
from collections.abc import Callable
from typing import Any, cast
from xml.etree import ElementTree as ETree

import botocore.handlers
import botocore.session
from botocore.model import OperationModel, Shape, StructureShape
from botocore.parsers import ResponseParser, ResponseParserFactory, RestXMLParser

LISTING = "ListObjectsV2"
# botocore's BaseXMLResponseParser._node_tag: a tag without its namespace.
_NAMESPACE = re.compile("{.*}")
# S3 writes its members in one order; an answer in many orders is not cached without bound.
_SEQUENCES_KEPT = 64
_SCALARS = {"string", "character", "boolean", "integer", "long", "timestamp"}
# Where the 200-error check leaves the tree it built, in the response's context: (body, root).
_TREE = "sagechain_listing_tree"
# botocore's check, which check_listing_answer replaces for ListObjectsV2 (private: absent from
# another botocore, the check stays botocore's and the parser builds its own tree).
_BOTOCORE_200_CHECK: Callable[..., None] | None = getattr(botocore.handlers, "_handle_200_error", None)

Convert = Callable[[ETree.Element], Any]
Entry = tuple[str, Convert, bool]  # member name, converter, whether a flattened list


class _UnexpectedError(Exception):
    """An answer the fast walk does not reproduce: botocore parses it instead."""


class _CannotPlanError(Exception):
    """An output shape with a member the plan cannot express: botocore parses every answer."""


class _Tags(dict[str, Entry | None]):
    """A structure's members by XML tag, namespace included: a tag seen for the first time is
    looked up by its local name (botocore strips any namespace); unknown tags map to None (botocore
    ignores elements its model lacks)."""

    def __init__(self, by_name: dict[str, Entry]) -> None:
        super().__init__()
        self._by_name = by_name

    def __missing__(self, tag: str) -> Entry | None:
        entry = self._by_name.get(_NAMESPACE.sub("", tag))
        self[tag] = entry
        return entry


class _Structure:
    """One structure's plan: its members by XML tag, and their order in the model, which is the
    order of botocore's dict."""

    def __init__(self, members: dict[str, Entry], order: list[str]) -> None:
        self.tags = _Tags(members)
        self.order = order
        self._in_order: dict[tuple[str, ...], bool] = {}  # the member sequences seen: in model order?

    def __call__(self, node: ETree.Element) -> dict[str, Any]:
        found: dict[str, Any] = {}
        tags = self.tags
        for child in node:
            entry = tags[child.tag]
            if entry is None:
                continue
            name, convert, flattened = entry
            if flattened:
                values = found.get(name)
                if values is None:
                    found[name] = [convert(child)]
                else:
                    values.append(convert(child))
            elif name in found:
                raise _UnexpectedError(name)  # botocore hands its handler a list of nodes: let it
            else:
                found[name] = convert(child)
        sequence = tuple(found)
        in_order = self._in_order.get(sequence)
        if in_order is None:
            in_order = [name for name in self.order if name in found] == list(sequence)
            if len(self._in_order) < _SEQUENCES_KEPT:
                self._in_order[sequence] = in_order
        if in_order:
            return found
        return {name: found[name] for name in self.order if name in found}


def _text(node: ETree.Element) -> str:
    # botocore's _text_content: an empty element is an empty string, not None.
    return node.text or ""


def _boolean(node: ETree.Element) -> bool:
    return node.text == "true"


def _integer(node: ETree.Element) -> int:
    return int(node.text or "")


def _plan(shape: StructureShape, timestamp: Callable[[str], Any], *, top: bool = False) -> _Structure:
    """A structure's plan from botocore's model of it (members in the body only, at the top)."""
    if shape.metadata.get("exception") or shape.is_tagged_union or shape.serialization.get("payload"):
        raise _CannotPlanError(shape.name)
    members: dict[str, Entry] = {}
    order: list[str] = []
    for name, member in shape.members.items():
        serialization = member.serialization
        if top and serialization.get("location") in RestXMLParser.KNOWN_LOCATIONS:
            continue  # a header: botocore's own _parse_non_payload_attrs reads it
        if set(serialization) - {"name", "flattened"}:
            raise _CannotPlanError(name)  # a location, an attribute, a namespace, a JSON value...
        if member.type_name == "list":
            item = member.member  # type: ignore[attr-defined]
            if not serialization.get("flattened") or set(item.serialization) - {"name"}:
                raise _CannotPlanError(name)
            tag = item.serialization.get("name") or serialization.get("name") or name
            entry = (name, _converter(item, timestamp), True)
        else:
            tag = serialization.get("name") or name
            entry = (name, _converter(member, timestamp), False)
        if tag in members:
            raise _CannotPlanError(tag)
        members[tag] = entry
        order.append(name)
    return _Structure(members, order)


def _converter(shape: Shape, timestamp: Callable[[str], Any]) -> Convert:
    kind = shape.type_name
    if kind in ("string", "character"):
        return _text
    if kind == "boolean":
        return _boolean
    if kind in ("integer", "long"):
        return _integer
    if kind == "timestamp":
        return lambda node: timestamp(node.text or "")
    if isinstance(shape, StructureShape):
        return _plan(shape, timestamp)
    raise _CannotPlanError(shape.name)


def _tree(body: bytes) -> ETree.Element:
    """The XML tree of an answer, read as botocore reads it (UTF-8, whatever the declaration says)."""
    # S3's own answer, read by the parser botocore reads it with (expat: entity expansion is bounded).
    parser = ETree.XMLParser(target=ETree.TreeBuilder(), encoding="utf-8")  # noqa: S314
    parser.feed(body)
    return parser.close()


class FastListingParser(RestXMLParser):
    """botocore's rest-xml parser, with ListObjectsV2's successful answers read by a compiled plan."""

    def __init__(self, plans: "FastListingParserFactory", **defaults: Any) -> None:
        super().__init__(**defaults)
        self._plans = plans

    def _do_parse(self, response: dict[str, Any], shape: Shape | None) -> dict[str, Any]:
        # botocore-stubs type only the parsers' public surface: their internals are reached as Any.
        botocore_parser: Any = super()
        tree = response.get("context", {}).pop(_TREE, None)
        own: Any = self
        plan = self._plans.plan(shape, own._timestamp_parser)
        body = response.get("body")
        if plan is None or not isinstance(shape, StructureShape) or not isinstance(body, bytes) or not body:
            return cast("dict[str, Any]", botocore_parser._do_parse(response, shape))
        try:
            root = tree[1] if tree is not None and tree[0] is body else _tree(body)
            members = plan(root)
        except Exception:  # anything unexpected: botocore answers (or raises) as it always does
            return cast("dict[str, Any]", botocore_parser._do_parse(response, shape))
        parsed: dict[str, Any] = {"ResponseMetadata": own._populate_response_metadata(response)}
        own._parse_non_payload_attrs(response, shape, shape.members, parsed)
        parsed.update(members)
        return parsed


class FastListingParserFactory(ResponseParserFactory):
    """botocore's parser factory (a new parser per answer), with FastListingParser for rest-xml
    (S3's protocol) and the plans it compiles kept here, once per output shape."""

    def __init__(self) -> None:
        super().__init__()
        self._parser_defaults: dict[str, Any] = {}
        self._compiled: dict[int, tuple[Shape, Callable[..., Any], _Structure | None]] = {}

    def set_parser_defaults(self, **kwargs: Any) -> None:
        """botocore's defaults (the timestamp parser): plans made with the old ones are dropped."""
        super().set_parser_defaults(**kwargs)
        self._parser_defaults.update(kwargs)
        self._compiled = {}

    def create_parser(self, protocol_name: str) -> ResponseParser:
        """A parser for protocol_name, with the factory's defaults."""
        if protocol_name == "rest-xml":
            return FastListingParser(self, **self._parser_defaults)
        return super().create_parser(protocol_name)

    def plan(self, shape: Shape | None, timestamp: Callable[[str], Any]) -> _Structure | None:
        """The plan of ListObjectsV2's output shape (None for any other, or one it cannot express)."""
        if not isinstance(shape, StructureShape) or shape.name != f"{LISTING}Output":
            return None
        known = self._compiled.get(id(shape))
        if known is not None and known[0] is shape and known[1] is timestamp:
            return known[2]
        try:
            plan: _Structure | None = _plan(shape, timestamp, top=True)
        except _CannotPlanError:
            plan = None
        self._compiled[id(shape)] = (shape, timestamp, plan)
        return plan


def check_listing_answer(
    operation_model: OperationModel, response_dict: dict[str, Any], **kwargs: Any
) -> None:
    """botocore's S3 200-error check (a 200 whose body is an <Error>, or is cut short, becomes a 500
    and is retried), which for a ListObjectsV2 answer keeps the tree it builds for the parser."""
    body = response_dict.get("body") if response_dict else None
    if (
        operation_model.name != LISTING
        or response_dict["status_code"] != 200
        or not isinstance(body, bytes)
        or not body
    ):
        if _BOTOCORE_200_CHECK is not None:
            _BOTOCORE_200_CHECK(operation_model=operation_model, response_dict=response_dict, **kwargs)
        return
    try:
        root = _tree(body)
    except ETree.ParseError:
        response_dict["status_code"] = 500
        return
    if root.tag == "Error":
        response_dict["status_code"] = 500
        return
    response_dict["context"][_TREE] = (body, root)


def install(session: botocore.session.Session, timestamp_parser: Callable[[str], Any]) -> None:
    """Give a session's clients FastListingParserFactory (timestamps read by timestamp_parser) and
    check_listing_answer in place of botocore's 200-error check."""
    factory = FastListingParserFactory()
    factory.set_parser_defaults(timestamp_parser=timestamp_parser)
    session.register_component("response_parser_factory", factory)
    if _BOTOCORE_200_CHECK is not None:
        events = session.get_component("event_emitter")
        events.unregister("before-parse.s3.*", _BOTOCORE_200_CHECK)
        events.register_first("before-parse.s3.*", check_listing_answer)
