"""A tool's MCP definition as OpenAI's function calling takes it: its description and its
input schema. OpenAI refuses a whole request, not the one tool, for a description or a
schema it does not take, so every answer would fail: what can be mended is mended here,
and what cannot is said (:func:`schema_refused`) for the manager to leave the tool out.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

import jsonschema
import mcp_types as mt
from jsonschema.exceptions import best_match

from voicedesk.tools.wording import SENTENCE_END

log = logging.getLogger(__name__)

# The longest tool description OpenAI takes; one longer and it refuses the whole request.
MAX_DESCRIPTION = 1024


# Keywords whose values are data, not schemas: an example list is no array schema.
_DATA_KEYWORDS = frozenset({"const", "default", "enum", "examples"})


# Keywords whose values map names to schemas ("properties": {"default": {...}}).
_NAMED_SCHEMAS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)


# Draft 4's ``$schema`` addresses (and draft 3's): a schema so marked is checked by that
# draft's rules, and would be sent in them, after _todays_form rewrote it in today's.
_OLD_DRAFTS = ("draft-03", "draft-04")

# Today's JSON Schema, which the language model reads a tool's parameters as.
TODAYS = jsonschema.Draft202012Validator


def openai_description(tool: mt.Tool) -> str:
    """A tool's description as OpenAI takes it: at most MAX_DESCRIPTION characters.

    OpenAI refuses the whole request, not the one tool, when a description is longer
    ("string too long"), and MCP servers write long ones (the official sequential-thinking
    server's is 2,781 characters): no answer came at all, whatever was asked. A longer one
    is cut at the end of a line (else of a sentence, else of a word), saying so: its start
    says what the tool is for, the rest is mostly detail."""
    text = tool.description or tool.title or tool.name
    if len(text) <= MAX_DESCRIPTION:
        return text
    note = f"[… cut: the full description is {len(text):,} characters]"
    room = MAX_DESCRIPTION - len(note) - 1
    kept = text[:room]
    line_end = kept.rfind("\n")
    sentence_ends = [m.start() for m in SENTENCE_END.finditer(kept)]
    if line_end >= room // 2:
        kept = kept[:line_end]
    elif sentence_ends and sentence_ends[-1] >= room // 2:
        kept = kept[: sentence_ends[-1]]
    elif " " in kept[room // 2 :]:
        kept = kept.rsplit(" ", 1)[0]
    return f"{kept.rstrip()}\n{note}"


def openai_parameters(schema: Any) -> tuple[dict[str, Any] | None, str]:
    """A tool's input schema as OpenAI takes it, or (None, what is wrong with it).

    OpenAI refuses the whole request, not the one tool, when a tool's parameters are no
    JSON Schema or hold an array that does not say what it holds ("array schema missing
    items", a draft 4 habit many MCP servers keep): no answer at all came, whatever was
    asked. Such an array takes anything (``items: {}``), as it meant; a schema that is
    still not one is for the caller to leave out."""
    params, wrong, _ = converted(schema)
    return params, wrong


def converted(schema: Any) -> tuple[dict[str, Any] | None, str, Any]:
    """:func:`openai_parameters` of ``schema``, and the validator of its tool's arguments
    when the check that it is a JSON Schema was that of the schema itself (None when
    not: it is then made at the tool's first call, :func:`made_checker`). Checking that a
    2 MB schema is one takes seconds of a core, and the listing and the first call each
    did it, the same check of the same schema: a schema the conversion left as it was
    (but for ``type``/``properties`` filled in at its top, which change nothing for an
    object of arguments) is checked once, and its validator made from that check. So is
    one only rewritten in today's form (:func:`_todays_form`, :func:`_items_given`: draft
    4's, say): its validator is that of its own draft, made without checking it again
    (a 2 MB draft 4 schema was checked twice, as today's form at the listing and as
    draft 4 at its tool's first call). The rewrite only respells what draft 4 spells
    otherwise, so a schema whose rewritten form is one is read by its own draft as
    meant; should it hold something its draft cannot follow after all, checking a call
    by it raises, and its calls go to the server unchecked, saying so
    (:meth:`ArgumentChecks.problems`). A schema whose choice of shapes was made one
    object (:func:`_one_object`) is another schema: its own validator is made, and
    checked, at its tool's first call. For a worker thread: it touches nothing shared."""
    if deeper_than(schema, MAX_DEPTH):
        return None, TOO_DEEP, None
    as_given = {"type": "object", "properties": {}, **(schema if isinstance(schema, dict) else {})}
    try:
        one = _one_object(as_given)
        todays = _todays_form(one)
        tuples = _tuples_today(todays) if _validator_class(todays) is TODAYS else todays
        params = _items_given(tuples)
        cls = _validator_class(params)
        cls.check_schema(params)
    except jsonschema.SchemaError as exc:
        return None, _old_draft_wrong(as_given, exc), None
    except RecursionError:  # deep enough for jsonschema's own checking, not under the limit
        return None, TOO_DEEP, None
    if not isinstance(schema, dict) or one is not as_given:
        return params, "", None
    if params == as_given and cls is _validator_class(schema):
        return params, "", cls(params)
    if tuples is not todays and _validator_class(as_given) is TODAYS:
        # a tuple in a schema that names no draft: today's validator cannot follow its
        # ``items`` list, the rewrite (just checked) says the same in today's words
        return params, "", cls(params)
    return params, "", _validator_class(as_given)(as_given)


def _wrong(exc: jsonschema.SchemaError) -> str:
    """What a schema's check found wrong with it, and where."""
    where = "/".join(str(p) for p in exc.path)
    return f"{exc.message}" + (f" (at {where})" if where else "")


def _old_draft_wrong(schema: dict[str, Any], exc: jsonschema.SchemaError) -> str:
    """Why ``schema``, which names draft 4 (or 3) in its ``$schema``, is refused, its
    rewrite in today's form having failed today's check: by its own draft's rules when it
    breaks them, else that its rewrite breaks today's (a draft 4 tuple, ``items`` as a
    list, which today writes otherwise). Told only today's complaint, a server's maker was
    sent to make ``exclusiveMinimum: "yes"`` a number, where draft 4 wants a boolean, and
    a valid draft 4 schema read as an invalid one. ``exc``: today's check's complaint,
    all that is said of a schema of today's drafts."""
    cls = _validator_class(schema)
    marked = schema.get("$schema")
    if not isinstance(marked, str) or not any(d in marked for d in _OLD_DRAFTS):
        return _wrong(exc)
    draft = "draft 3" if "draft-03" in marked else "draft 4"
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as own:
        return f"{_wrong(own)}, by JSON Schema {draft}, which its $schema names"
    except RecursionError:
        return TOO_DEEP
    pointer = _ref_into_tuple(schema)
    if pointer is not None:  # the one tuple _tuples_today leaves as it is
        return (
            f"it is valid JSON Schema {draft}, which its $schema names, but the language "
            f"model reads today's JSON Schema (2020-12), which writes a tuple (`items` as a "
            f"list) as `prefixItems`, and its $ref {pointer!r} points into a tuple by its "
            f"path, which would then point at nothing; a $ref to a definition "
            f"(`#/definitions/…`) instead would let voicedesk rewrite it"
        )
    return (
        f"it is valid JSON Schema {draft}, which its $schema names, but the language model "
        f"reads today's JSON Schema (2020-12), and in that form it is not one "
        f"({_wrong(exc)}): something {draft} writes otherwise that voicedesk does not rewrite"
    )


# The deepest a tool's input schema may nest, in levels of its JSON: each JSON object and
# array counts, so an object property inside another takes two (its schema and the
# "properties" that holds it), and a choice (``anyOf``) two (the list and its schema).
# Deeper, the conversion and jsonschema's check of it raised RecursionError (from about
# 200 deep) out of the tool listing: the traceback in the log, and the server's tools
# never offered. A real schema nests a few levels; the MCP SDK reads no message nesting
# more than 200 levels (:data:`~voicedesk.tools.wire.MCP_READ_DEPTH`), its envelope
# included.
MAX_DEPTH = 100
TOO_DEEP = (
    f"its JSON nests more than {MAX_DEPTH} levels deep, counting each object and array, "
    f"an object property inside another being two levels, its schema and the "
    f"“properties” holding it: too deep to check; a tool's arguments need a few levels"
)


def deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests dicts and lists more than ``limit`` deep: found without
    recursion, which is what a schema too deep breaks, and stopping at the limit."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


# What OpenAI refuses at the top of a tool's parameters ("schema must have type 'object'
# and not have 'oneOf'/'anyOf'/'allOf'/'enum'/'not' at the top level"), whole request and all.
_TOP_REFUSED = ("oneOf", "anyOf", "allOf", "enum", "not")


def _one_object(schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """``schema`` without a choice of shapes at its top, which OpenAI refuses: the shapes
    (``oneOf``/``anyOf``/``allOf``, local ``$ref``s followed) made one object of every
    property of every shape, requiring what every shape requires (each, for ``allOf``).
    A server listing a union of argument shapes offered them so, and no answer came at
    all; the server still checks the arguments against its own schema. ``enum`` and
    ``not`` at the top only narrow it, and go."""
    if not any(key in schema for key in _TOP_REFUSED):
        return schema
    out = {key: value for key, value in schema.items() if key not in _TOP_REFUSED}
    properties = out.get("properties")
    if not isinstance(properties, dict):
        return out  # no JSON Schema: for the check to name
    properties = dict(properties)
    required = [r for r in out.get("required") or [] if isinstance(r, str)]
    for key in ("allOf", "oneOf", "anyOf"):
        shapes = schema.get(key)
        if not isinstance(shapes, list) or depth > 5:
            continue
        flat = [
            _one_object(shape, depth + 1)
            for shape in (_local(schema, s) for s in shapes)
            if isinstance(shape, dict)
        ]
        needs: list[list[str]] = []
        for shape in flat:
            for name, sub in (shape.get("properties") or {}).items():
                properties.setdefault(name, sub)
            needs.append([r for r in shape.get("required") or [] if isinstance(r, str)])
        if key == "allOf":
            needed = [name for need in needs for name in need]
        else:
            needed = [name for name in (needs[0] if needs else []) if all(name in n for n in needs)]
        required += [name for name in dict.fromkeys(needed) if name not in required]
    out["properties"] = properties
    if required:
        out["required"] = required
    return out


def _local(root: dict[str, Any], schema: Any) -> Any:
    """``schema``, or what its ``$ref`` names in ``root``'s ``$defs``/``definitions``."""
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if not isinstance(ref, str) or not ref.startswith(("#/$defs/", "#/definitions/")):
        return schema
    where, _, name = ref[2:].partition("/")
    found = (root.get(where) or {}).get(name) if isinstance(root.get(where), dict) else None
    return found if isinstance(found, dict) else schema


def _rewritten(schema: Any, rewrite: Callable[[dict[str, Any]], None]) -> Any:
    """``schema`` copied, ``rewrite`` made in place on the copy of each object in it, once
    the schemas within that object are copied and rewritten. Not inside the values of data
    keywords (an ``enum``'s objects are no schemas), and not to the names of named schemas
    (``properties``' keys are names, not keywords): each draft rewrite below is one such
    ``rewrite`` of one object, over the same walk."""
    if isinstance(schema, list):
        return [_rewritten(s, rewrite) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _NAMED_SCHEMAS and isinstance(value, dict):  # keys are names, not keywords
            out[key] = {name: _rewritten(sub, rewrite) for name, sub in value.items()}
        else:
            out[key] = value if key in _DATA_KEYWORDS else _rewritten(value, rewrite)
    rewrite(out)
    return out


def _todays_form(schema: Any) -> Any:
    """``schema`` (copied) with JSON Schema draft 4's forms in today's, which OpenAI reads:
    a boolean ``exclusiveMinimum``/``exclusiveMaximum`` becomes the bound itself (true) or
    goes (false), and draft 4's ``id`` and ``$schema`` go. Checked as today's JSON Schema,
    ``exclusiveMinimum: true`` left the tool out ("True is not of type 'number'"), and
    many servers still write draft 4."""
    return _rewritten(schema, _in_todays_form)


def _in_todays_form(out: dict[str, Any]) -> None:
    """:func:`_todays_form`'s rewrite of one object."""
    if isinstance(out.get("id"), str):
        del out["id"]  # draft 4's name for $id: a URI nothing here refers to
    draft = out.get("$schema")
    if isinstance(draft, str) and any(d in draft for d in _OLD_DRAFTS):
        del out["$schema"]
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = out.get(exclusive)
        if not isinstance(flag, bool):
            continue
        del out[exclusive]
        limit = out.get(bound)
        if flag and isinstance(limit, (int, float)) and not isinstance(limit, bool):
            out[exclusive] = out.pop(bound)


def _tuples_today(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (copied) with draft 4's tuples in today's words: ``items`` as a list of
    schemas (each place's) becomes ``prefixItems``, and ``additionalItems`` beside it (what
    comes after) becomes ``items``. Read as today's JSON Schema (2020-12), where ``items``
    is one schema, a tuple was no schema at all, and its tool was left out; servers that
    write draft 4 (or no ``$schema``, in its habits) still write tuples so. Only when the
    rewrite means the same: a ``$ref`` that points into a tuple by its path
    (``#/…/items/0``) would point at nothing once it is ``prefixItems``, and a schema
    that has ``prefixItems`` already would say two things; either leaves ``schema`` as it
    is (the same object), for the check to refuse and :func:`_old_draft_wrong` to say."""
    tuples = [s for s in _walk(schema) if isinstance(s.get("items"), list)]
    if not tuples or any("prefixItems" in s for s in tuples):
        return schema
    if _ref_into_tuple(schema) is not None:
        return schema
    return _tuples_rewritten(schema)  # type: ignore[no-any-return]


def _ref_into_tuple(schema: Any) -> str | None:
    """The first ``$ref`` in ``schema`` that points into a tuple by its path, or None."""
    refs = (s["$ref"] for s in _walk(schema) if isinstance(s.get("$ref"), str))
    return next((ref for ref in refs if _into_tuple(ref)), None)


def _walk(schema: Any) -> Iterator[dict[str, Any]]:
    """Every schema object in ``schema``, itself included: not the values of data keywords
    (an ``enum``'s objects are no schemas)."""
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        yield item
        for key, value in item.items():
            if key in _NAMED_SCHEMAS and isinstance(value, dict):
                stack.extend(value.values())
            elif key not in _DATA_KEYWORDS:
                stack.append(value)


def _into_tuple(ref: str) -> bool:
    """Whether the JSON pointer ``ref`` goes through a place of an ``items`` list, or an
    ``additionalItems`` (both renamed by the rewrite)."""
    parts = ref.partition("#")[2].split("/")
    return "additionalItems" in parts or any(
        a == "items" and b.isdigit() for a, b in pairwise(parts)
    )


def _tuples_rewritten(schema: Any) -> Any:
    """:func:`_tuples_today`'s rewrite, once it is known to be exact."""
    return _rewritten(schema, _tuple_in_todays_words)


def _tuple_in_todays_words(out: dict[str, Any]) -> None:
    """:func:`_tuples_rewritten`'s rewrite of one object."""
    if isinstance(out.get("items"), list):
        out["prefixItems"] = out.pop("items")
        if "additionalItems" in out:
            out["items"] = out.pop("additionalItems")


def _items_given(schema: Any) -> Any:
    """``schema`` (copied) with ``items: {}`` in every array schema that has no items."""
    return _rewritten(schema, _given_items)


def _given_items(out: dict[str, Any]) -> None:
    """:func:`_items_given`'s rewrite of one object."""
    kind = out.get("type")
    is_array = kind == "array" or (isinstance(kind, list) and "array" in kind)
    if is_array and "items" not in out and "prefixItems" not in out:
        out["items"] = {}


def schema_refused(wrong: str) -> str:
    """Why a tool whose input schema the language model refuses (``wrong``) is left out."""
    return (
        f"its input schema is not one the language model accepts ({wrong}). Offered, it "
        f"would make every answer fail. Its other tools are available; the server's maker "
        f"can fix the schema."
    )


# The most problems named in one refused call: the model fixes them and calls again, and a
# long list buries the first.
MAX_PROBLEMS = 3


# How many schemas' validators one ArgumentChecks keeps; past it, a server relisting its
# tools often, all are forgotten (and made again at their tools' next calls).
MAX_CHECKERS = 512


class ArgumentChecks:
    """The validators of the tools' input schemas, and what the log was told of those
    that cannot be used: one per :class:`~voicedesk.tools.manager.ToolManager`. Kept for
    the process, a second manager in it never said that its tool's calls go unchecked,
    the first having said it of a tool of that name: tool names are each manager's."""

    def __init__(self) -> None:
        # Each schema's validator, by the schema itself (kept, so its id is not reused):
        # checking that a schema is one took 7 s for a 2 MB schema (20,000 properties),
        # on every call, on the event loop the conversation runs on; following it takes
        # a millisecond.
        self._checkers: dict[int, tuple[dict[str, Any], Any]] = {}
        # the schemas whose tools' calls go unchecked, by id (the schema kept above)
        self._unusable: set[int] = set()
        # The tools whose calls the log said go unchecked, until one of their schemas
        # checks one: by schema alone, a tool whose unusable schema changes at each
        # relisting (a $ref to a file's section, where the file changes) was said again
        # after each.
        self._said_unusable: set[str] = set()
        # The schema each tool was last checked by, by id: a tool relisted with a changed
        # schema (a server's tools/list_changed) lets its old one go, which the cache
        # otherwise kept alive with its validator until MAX_CHECKERS had gathered (a
        # 5,000-property schema's: 1.9 MB each).
        self._by_tool: dict[str, int] = {}

    def problems(
        self,
        schema: dict[str, Any],
        arguments: dict[str, Any],
        tool: str = "",
        made: tuple[Any, Exception | None] | None = None,
    ) -> list[str]:
        """What is wrong with ``arguments`` by the tool's input ``schema``, one short
        phrase each, naming the field and what it takes; none when they fit. A server that
        does not check its own inputs ran a call with a required field left out, or a
        number written as text, as it was. A schema that cannot be used (no JSON Schema, a
        ``$ref`` to nowhere) checks nothing: the call goes to the server, which judges,
        and the log says so once for ``tool``. ``made``: the schema's validator, made by
        :func:`made_checker` on a worker thread or by :func:`converted` at the listing,
        if not :meth:`kept` yet."""
        checker = self._checker(schema, tool, made)
        if checker is None:
            return []
        try:
            errors = [
                error
                for error in checker.iter_errors(arguments)  # in the schema's order
                if not _taken_as_meant(error)
            ]
            # in a choice of shapes, the one problem that stands out, if one does
            problems = dict.fromkeys(_problem(best_match([error])) for error in errors)
        except RecursionError:
            # these arguments nest too deep to follow (a tree, by a schema whose $ref
            # refers to itself), not the schema: taken as unusable, every later call of
            # the tool went unchecked. This one call goes to its server unchecked.
            log.warning("the arguments of a call to %s nest too deep to check: not checked", tool)
            return []
        except Exception as exc:  # a $ref to nowhere is found only when it is followed
            self._said_once(schema, tool, exc)
            return []
        self._said_unusable.discard(tool)  # usable again: a schema that breaks later is said
        return list(problems)[:MAX_PROBLEMS]

    def kept(self, schema: dict[str, Any]) -> bool:
        """Whether ``schema``'s validator is made already (or it was found unusable)."""
        kept = self._checkers.get(id(schema))
        return kept is not None and kept[0] is schema

    def _checker(
        self, schema: dict[str, Any], tool: str, made: tuple[Any, Exception | None] | None
    ) -> Any:
        """The validator of ``schema``, made once (or given, ``made``); None when it is no
        JSON Schema."""
        kept = self._checkers.get(id(schema))
        if kept is not None and kept[0] is schema:
            return kept[1]
        if tool:
            self._forget_replaced(tool, id(schema))
        if len(self._checkers) >= MAX_CHECKERS:  # a server relisting its tools often
            self._checkers.clear()
            self._unusable.clear()
            self._by_tool.clear()
            if tool:
                self._by_tool[tool] = id(schema)
        checker, exc = made if made is not None else made_checker(schema)
        if exc is not None:
            self._checkers[id(schema)] = (schema, None)
            self._said_once(schema, tool, exc)
            return None
        self._checkers[id(schema)] = (schema, checker)
        return checker

    def _forget_replaced(self, tool: str, schema_id: int) -> None:
        """``tool`` is checked by the schema ``schema_id`` now: its earlier one, unless
        another tool still has it, goes with its validator."""
        before = self._by_tool.get(tool)
        self._by_tool[tool] = schema_id
        if before is None or before == schema_id or before in self._by_tool.values():
            return
        self._checkers.pop(before, None)
        self._unusable.discard(before)

    def _said_once(self, schema: dict[str, Any], tool: str, exc: Exception) -> None:
        """Log once that ``tool``'s calls go to its server unchecked, and why: once per
        tool until a schema of it checks a call again, whatever schemas it is relisted
        with."""
        if id(schema) in self._unusable:
            return
        self._unusable.add(id(schema))
        self._checkers[id(schema)] = (schema, None)
        if tool in self._said_unusable:
            return
        if tool:
            self._said_unusable.add(tool)
        why = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        log.warning(
            "the input schema of the tool %s cannot be used to check its arguments (%s): "
            "its calls go to its server unchecked",
            tool or "(unnamed)",
            why.splitlines()[0][:200] if why else type(exc).__name__,
        )


def made_checker(schema: dict[str, Any]) -> tuple[Any, Exception | None]:
    """The validator of ``schema``, or (None, why there is none), touching nothing shared:
    for a worker thread. Checking that a 2 MB schema is one took 5-12 s, which held the
    event loop at the first call of its tool."""
    try:
        cls = _validator_class(schema)
        cls.check_schema(schema)
        return cls(schema), None
    except Exception as exc:  # a bad "type", a "pattern" no regex, nested too deep
        return None, exc


def _validator_class(schema: dict[str, Any]) -> Any:
    """The JSON Schema draft ``schema`` names in its ``$schema``; today's (2020-12) when it
    names none, or one jsonschema does not know (which it warns "will raise an error in
    the future": a tool left out, or its calls refused, over a URI only its maker reads)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)


def _taken_as_meant(error: jsonschema.ValidationError) -> bool:
    """A value of another JSON type that servers take as meant: most MCP servers read
    their arguments with pydantic, which takes "2" for 2, 3.0 for 3 and "true" for true.
    Refused here, the model was sent back for a call its server would have run, a round
    of the model the person waits through (~1 s) for nothing."""
    if error.validator != "type":
        return False
    wanted = error.validator_value
    kinds = set(wanted) if isinstance(wanted, list) else {wanted}
    value = error.instance
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        text = value.strip()
        if "boolean" in kinds and text.lower() in ("true", "false"):
            return True
        try:
            number = float(text)
        except ValueError:
            return False
        return "number" in kinds or ("integer" in kinds and number.is_integer())
    return isinstance(value, float) and "integer" in kinds and value.is_integer()


def _field(path: Any) -> str:
    """A field's place in the arguments, as the model wrote it: ``items[0].name``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


def _problem(error: jsonschema.ValidationError) -> str:
    """``error`` in words for the model: the field, what it was, what it takes."""
    where = _field(error.absolute_path)
    wanted: Any = error.validator_value  # the keyword's value in the schema
    if error.validator == "required" and isinstance(error.instance, dict):
        # one error per field left out, each with all of them here: said once, whole
        names = [".".join(filter(None, [where, str(n)])) for n in wanted if n not in error.instance]
        if len(names) == 1:
            return f"the field “{names[0]}” is missing (it is required)"
        listed = ", ".join(f"“{n}”" for n in names)
        return f"the fields {listed} are missing (they are required)"
    given = _json(error.instance)
    if error.validator == "type":
        kinds = " or ".join(wanted) if isinstance(wanted, list) else str(wanted)
        return f"the field “{where}” is {given}, but it takes {_a(kinds)}"
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in wanted)
        return f"the field “{where}” is {given}, but it takes one of: {allowed}"
    if error.validator in ("oneOf", "anyOf") and error.context:
        # "{…} is not valid under any of the given schemas" told the model nothing to fix
        shapes: dict[Any, list[str]] = {}
        for sub in error.context:
            shapes.setdefault(sub.relative_schema_path[0], []).append(_problem(sub))
        each = "; ".join(
            f"shape {n}: {', '.join(dict.fromkeys(found))}"
            for n, found in enumerate(shapes.values(), 1)
        )
        it = f"the field “{where}”" if where else "they"
        return f"{it} fit none of the shapes it takes ({each})"
    if not where:
        return error.message
    return f"the field “{where}”: {error.message}"


def _a(kind: str) -> str:
    """``integer`` as "an integer", ``string`` as "a string"."""
    return f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"


def _json(value: Any) -> str:
    """A value as the model wrote it, kept short."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else f"{text[:57]}…"
