"""OpenAlex list-query semantics over an :class:`~.corpus.EntityStore`.

What is mirrored, and from where
--------------------------------
- ``filter``: comma = AND; ``|`` = OR (at most 100 values); a leading ``!`` negates the
  whole OR (``!a|b`` means NOT (a or b)); ``!`` inside an OR is refused; a space (a ``+``
  in the URL) between values of an ID/term filter means AND; ``null``/``!null`` test for
  an empty/non-empty field; range values ``2020``, ``2020-2024``, ``>2020``, ``<2020``,
  ``2020-``, ``-2020``, ``!2020``; dates ``yyyy-mm-dd`` with ``<``/``>``.  Filter names may
  be hyphenated.  ``authorships.institutions.{id,lineage,ror,country_code,type}`` also
  match ``institution_assertions``, as the API does.
- Error texts: the API's own, as recorded in ``fixture_error_400_*.json`` and as written
  in ourresearch/openalex-elastic-api (``core/validate.py``, ``core/filter.py``,
  ``core/fields.py``, ``core/paginate.py``, ``core/utils.py``; read for reference only, no
  code copied).
- Valid field lists: works from the recorded 400 fixtures (filter and select); institutions
  and authors from ``schema_openalex_properties_snapshot_2026-07-28.json`` plus the ID and
  search aliases the API accepts.

Simplifications (documented in README.md): ``*.search`` and ``search`` are
case-insensitive substring matches, not stemmed full-text search; every word must occur
(``AND`` is ignored; a double-quoted query is one phrase).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .corpus import (
    DATA_DIR,
    ENTITIES,
    EntityStore,
    Record,
    abstract_text,
    default_records,
    norm_doi,
    norm_orcid,
    norm_ror,
    norm_term,
    parse_openalex_id,
    short_openalex_id,
)

MAX_OR_VALUES = 100
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 25
MAX_BASIC_PAGING_RESULTS = 10_000

QUERY_ERROR = "Invalid query parameters error."
PAGINATION_ERROR = "Pagination error."
NOT_IMPLEMENTED_ERROR = "Not implemented by the test server."

#: Query parameters the API accepts (openalex-elastic-api ``core/validate.py``).
VALID_PARAMS: tuple[str, ...] = (
    "apc_sum",
    "api-key",
    "api_key",
    "cited_by_count_sum",
    "cursor",
    "data_version",
    "data-version",
    "filter",
    "format",
    "include_xpac",
    "include-xpac",
    "group_by",
    "group-by",
    "group_bys",
    "group-bys",
    "mailto",
    "page",
    "per_page",
    "per-page",
    "q",
    "sample",
    "seed",
    "search",
    "select",
    "sort",
    "warm",
)
#: Accepted and ignored: they change nothing the test server models.
IGNORED_PARAMS = frozenset(
    {
        "api-key",
        "api_key",
        "mailto",
        "data_version",
        "data-version",
        "include_xpac",
        "include-xpac",
        "warm",
        "seed",
    }
)
#: Valid in the API, refused here with 501 so a test never silently relies on them.
UNIMPLEMENTED_PARAMS = frozenset(
    {
        "apc_sum",
        "cited_by_count_sum",
        "format",
        "group_by",
        "group-by",
        "group_bys",
        "group-bys",
        "q",
        "sample",
    }
)


class ApiError(Exception):
    """An error response: HTTP status plus the API's ``{"error", "message"}`` body.

    Examples
    --------
    >>> ApiError(400, QUERY_ERROR, "x is not a valid field.").body()["error"]
    'Invalid query parameters error.'
    """

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message

    def body(self) -> dict[str, str]:
        return {"error": self.error, "message": self.message}


def _query_error(message: str) -> ApiError:
    return ApiError(400, QUERY_ERROR, message)


def _not_implemented(what: str) -> ApiError:
    return ApiError(
        501,
        NOT_IMPLEMENTED_ERROR,
        f"{what} is valid in the OpenAlex API but tests/oaserver does not implement it.",
    )


# --------------------------------------------------------------------------- fields


@dataclass(frozen=True)
class FieldSpec:
    """How one filter (or sort) field reads a record.

    ``kind`` is ``openalex_id`` | ``term`` | ``bool`` (values from ``extract`` are
    strings compared after ``norm``), ``range`` (``extract`` gives a number or None),
    ``date`` (an ISO date string or None; ``date_op`` is ``gte``/``lte``/``eq``) or
    ``search`` (``extract`` gives text).
    """

    name: str
    kind: str
    extract: Callable[[Record], Any]
    norm: Callable[[str], str] = norm_term
    date_op: str = "eq"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _authorships(w: Record) -> list[Record]:
    return [a for a in _list(w.get("authorships")) if isinstance(a, dict)]


def _work_institutions(w: Record) -> Iterator[Record]:
    """Dehydrated institutions of every authorship, then ``institution_assertions``."""
    for a in _authorships(w):
        for inst in _list(a.get("institutions")):
            if isinstance(inst, dict):
                yield inst
    for inst in _list(w.get("institution_assertions")):
        if isinstance(inst, dict):
            yield inst


def _strings(values: Iterable[Any]) -> list[str]:
    return [v for v in values if isinstance(v, str) and v]


def _inst_key(key: str) -> Callable[[Record], list[str]]:
    return lambda w: _strings(i.get(key) for i in _work_institutions(w))


def _inst_lineage(w: Record) -> list[str]:
    return _strings(x for i in _work_institutions(w) for x in _list(i.get("lineage")))


def _author_key(key: str) -> Callable[[Record], list[str]]:
    return lambda w: _strings((a.get("author") or {}).get(key) for a in _authorships(w))


def _path(record: Record, dotted: str) -> Any:
    node: Any = record
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _scalar(dotted: str) -> Callable[[Record], list[str]]:
    def extract(r: Record) -> list[str]:
        value = _path(r, dotted)
        return [value] if isinstance(value, str) and value else []

    return extract


def _each(list_key: str, dotted: str) -> Callable[[Record], list[str]]:
    def extract(r: Record) -> list[str]:
        return _strings(_path(item, dotted) for item in _list(r.get(list_key)))

    return extract


def _string_list(key: str) -> Callable[[Record], list[str]]:
    return lambda r: _strings(_list(r.get(key)))


def _boolean(get: Callable[[Record], Any]) -> Callable[[Record], list[str]]:
    def extract(r: Record) -> list[str]:
        value = get(r)
        if isinstance(value, bool):
            return ["true" if value else "false"]
        return []

    return extract


def _number(dotted: str) -> Callable[[Record], float | None]:
    def extract(r: Record) -> float | None:
        value = _path(r, dotted)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    return extract


def _title(w: Record) -> str:
    value = w.get("title") or w.get("display_name")
    return value if isinstance(value, str) else ""


def _raw_affiliations(w: Record) -> str:
    texts: list[str] = []
    for a in _authorships(w):
        texts.extend(_strings(_list(a.get("raw_affiliation_strings"))))
        texts.extend(
            _strings(
                aff.get("raw_affiliation_string")
                for aff in _list(a.get("affiliations"))
                if isinstance(aff, dict)
            )
        )
    return "\n".join(texts)


def _names(*keys: str) -> Callable[[Record], str]:
    def extract(r: Record) -> str:
        parts: list[str] = []
        for key in keys:
            value = r.get(key)
            if isinstance(value, str):
                parts.append(value)
            else:
                parts.extend(_strings(_list(value)))
        return "\n".join(parts)

    return extract


def _dehydrated(list_key: str, key: str, nested: str | None) -> Callable[[Record], list[str]]:
    """Values of ``key`` in a list of dehydrated institutions (or ``{nested: inst}``)."""

    def institutions(r: Record) -> Iterator[Record]:
        for item in _list(r.get(list_key)):
            inst = item.get(nested) if nested and isinstance(item, dict) else item
            if isinstance(inst, dict):
                yield inst

    if key == "lineage":
        return lambda r: _strings(x for i in institutions(r) for x in _list(i.get("lineage")))
    return lambda r: _strings(i.get(key) for i in institutions(r))


def _specs(*groups: tuple[Sequence[str], FieldSpec]) -> dict[str, FieldSpec]:
    table: dict[str, FieldSpec] = {}
    for names, spec in groups:
        for name in names:
            table[name] = spec
    return table


def _oid(name: str, extract: Callable[[Record], Any]) -> FieldSpec:
    return FieldSpec(name, "openalex_id", extract, short_openalex_id)


def _term(
    name: str, extract: Callable[[Record], Any], norm: Callable[[str], str] = norm_term
) -> FieldSpec:
    return FieldSpec(name, "term", extract, norm)


def _bool(name: str, get: Callable[[Record], Any]) -> FieldSpec:
    return FieldSpec(name, "bool", _boolean(get), norm_term)


def _range(name: str, dotted: str | None = None) -> FieldSpec:
    return FieldSpec(name, "range", _number(dotted or name))


def _search(name: str, extract: Callable[[Record], str]) -> FieldSpec:
    return FieldSpec(name, "search", extract)


def _own_id(r: Record) -> list[str]:
    return _strings([r.get("id")])


def _works_fields() -> dict[str, FieldSpec]:
    title_abstract: Callable[[Record], str] = lambda w: f"{_title(w)}\n{abstract_text(w)}"  # noqa: E731
    return _specs(
        (("openalex", "ids.openalex", "openalex_id"), _oid("openalex", _own_id)),
        (("doi",), _term("doi", _scalar("doi"), norm_doi)),
        (
            ("authorships.institutions.id", "institutions.id", "institution.id"),
            _oid("authorships.institutions.id", _inst_key("id")),
        ),
        (
            ("authorships.institutions.lineage",),
            _oid("authorships.institutions.lineage", _inst_lineage),
        ),
        (
            ("authorships.institutions.ror", "institutions.ror"),
            _term("authorships.institutions.ror", _inst_key("ror"), norm_ror),
        ),
        (
            ("authorships.institutions.country_code", "institutions.country_code"),
            _term("authorships.institutions.country_code", _inst_key("country_code")),
        ),
        (
            ("authorships.institutions.type", "institutions.type"),
            _term("authorships.institutions.type", _inst_key("type")),
        ),
        (
            ("authorships.countries",),
            _term(
                "authorships.countries",
                lambda w: _strings(c for a in _authorships(w) for c in _list(a.get("countries"))),
            ),
        ),
        (("authorships.author.id", "author.id"), _oid("authorships.author.id", _author_key("id"))),
        (
            ("authorships.author.orcid", "author.orcid"),
            _term("authorships.author.orcid", _author_key("orcid"), norm_orcid),
        ),
        (
            ("authorships.affiliations.institution_ids",),
            _oid(
                "authorships.affiliations.institution_ids",
                lambda w: _strings(
                    i
                    for a in _authorships(w)
                    for aff in _list(a.get("affiliations"))
                    if isinstance(aff, dict)
                    for i in _list(aff.get("institution_ids"))
                ),
            ),
        ),
        (
            ("authorships.is_corresponding", "is_corresponding"),
            FieldSpec(
                "authorships.is_corresponding",
                "bool",
                lambda w: [
                    "true" if a.get("is_corresponding") else "false"
                    for a in _authorships(w)
                    if isinstance(a.get("is_corresponding"), bool)
                ],
            ),
        ),
        (
            ("corresponding_author_ids",),
            _oid("corresponding_author_ids", _string_list("corresponding_author_ids")),
        ),
        (
            ("corresponding_institution_ids",),
            _oid("corresponding_institution_ids", _string_list("corresponding_institution_ids")),
        ),
        (("cites", "referenced_works"), _oid("referenced_works", _string_list("referenced_works"))),
        (("primary_topic.id",), _oid("primary_topic.id", _scalar("primary_topic.id"))),
        (("topics.id",), _oid("topics.id", _each("topics", "id"))),
        (
            ("primary_topic.domain.id",),
            _term("primary_topic.domain.id", _scalar("primary_topic.domain.id")),
        ),
        (
            ("primary_topic.field.id",),
            _term("primary_topic.field.id", _scalar("primary_topic.field.id")),
        ),
        (
            ("primary_topic.subfield.id",),
            _term("primary_topic.subfield.id", _scalar("primary_topic.subfield.id")),
        ),
        (("topics.domain.id",), _term("topics.domain.id", _each("topics", "domain.id"))),
        (("topics.field.id",), _term("topics.field.id", _each("topics", "field.id"))),
        (("topics.subfield.id",), _term("topics.subfield.id", _each("topics", "subfield.id"))),
        (("keywords.id",), _term("keywords.id", _each("keywords", "id"))),
        (("concepts.id", "concept.id"), _oid("concepts.id", _each("concepts", "id"))),
        (("funders.id",), _oid("funders.id", _each("funders", "id"))),
        (
            ("primary_location.source.id", "journal"),
            _oid("primary_location.source.id", _scalar("primary_location.source.id")),
        ),
        (
            ("locations.source.id",),
            _oid(
                "locations.source.id",
                lambda w: _strings(
                    _path(loc, "source.id")
                    for loc in _list(w.get("locations"))
                    if isinstance(loc, dict)
                ),
            ),
        ),
        (("type",), _term("type", _scalar("type"))),
        (("type_crossref",), _term("type_crossref", _scalar("type_crossref"))),
        (("language",), _term("language", _scalar("language"))),
        (("indexed_in",), _term("indexed_in", _string_list("indexed_in"))),
        (
            ("open_access.oa_status", "oa_status"),
            _term("open_access.oa_status", _scalar("open_access.oa_status")),
        ),
        (("is_retracted",), _bool("is_retracted", lambda w: w.get("is_retracted"))),
        (("is_paratext",), _bool("is_paratext", lambda w: w.get("is_paratext"))),
        (
            ("open_access.is_oa", "is_oa"),
            _bool("open_access.is_oa", lambda w: _path(w, "open_access.is_oa")),
        ),
        (("has_doi",), _bool("has_doi", lambda w: bool(w.get("doi")))),
        (
            ("has_abstract",),
            _bool("has_abstract", lambda w: isinstance(w.get("abstract_inverted_index"), dict)),
        ),
        (
            ("has_references",),
            _bool("has_references", lambda w: bool(_list(w.get("referenced_works")))),
        ),
        (
            ("has_orcid",),
            _bool(
                "has_orcid",
                lambda w: any((a.get("author") or {}).get("orcid") for a in _authorships(w)),
            ),
        ),
        (
            ("has_raw_affiliation_strings",),
            _bool("has_raw_affiliation_strings", lambda w: bool(_raw_affiliations(w))),
        ),
        (("publication_year",), _range("publication_year")),
        (("cited_by_count",), _range("cited_by_count")),
        (("referenced_works_count",), _range("referenced_works_count")),
        (("locations_count",), _range("locations_count")),
        (("countries_distinct_count",), _range("countries_distinct_count")),
        (("institutions_distinct_count",), _range("institutions_distinct_count")),
        (("fwci",), _range("fwci")),
        (
            ("from_publication_date",),
            FieldSpec(
                "from_publication_date", "date", lambda w: w.get("publication_date"), date_op="gte"
            ),
        ),
        (
            ("to_publication_date",),
            FieldSpec(
                "to_publication_date", "date", lambda w: w.get("publication_date"), date_op="lte"
            ),
        ),
        (
            ("publication_date",),
            FieldSpec(
                "publication_date", "date", lambda w: w.get("publication_date"), date_op="eq"
            ),
        ),
        (("title.search", "display_name.search"), _search("title.search", _title)),
        (("abstract.search",), _search("abstract.search", abstract_text)),
        (
            ("title_and_abstract.search", "default.search"),
            _search("title_and_abstract.search", title_abstract),
        ),
        (
            ("raw_affiliation_strings.search",),
            _search("raw_affiliation_strings.search", _raw_affiliations),
        ),
        (
            ("raw_author_name.search",),
            _search(
                "raw_author_name.search",
                lambda w: "\n".join(_strings(a.get("raw_author_name") for a in _authorships(w))),
            ),
        ),
    )


def _institutions_fields() -> dict[str, FieldSpec]:
    return _specs(
        (("openalex", "ids.openalex", "openalex_id"), _oid("openalex", _own_id)),
        (("ror",), _term("ror", _scalar("ror"), norm_ror)),
        (("country_code",), _term("country_code", _scalar("country_code"))),
        (("lineage",), _oid("lineage", _string_list("lineage"))),
        (("type",), _term("type", _scalar("type"))),
        (("display_name",), _term("display_name", _scalar("display_name"))),
        (("display_name.search",), _search("display_name.search", _names("display_name"))),
        (
            ("default.search",),
            _search(
                "default.search",
                _names("display_name", "display_name_alternatives", "display_name_acronyms"),
            ),
        ),
        (("has_ror",), _bool("has_ror", lambda r: bool(r.get("ror")))),
        (("is_super_system",), _bool("is_super_system", lambda r: r.get("is_super_system"))),
        (("works_count",), _range("works_count")),
        (("cited_by_count",), _range("cited_by_count")),
    )


def _authors_fields() -> dict[str, FieldSpec]:
    table = _specs(
        (("openalex", "ids.openalex", "openalex_id"), _oid("openalex", _own_id)),
        (("orcid",), _term("orcid", _scalar("orcid"), norm_orcid)),
        (("has_orcid",), _bool("has_orcid", lambda r: bool(r.get("orcid")))),
        (("display_name.search",), _search("display_name.search", _names("display_name"))),
        (
            ("default.search",),
            _search("default.search", _names("display_name", "display_name_alternatives")),
        ),
        (("works_count",), _range("works_count")),
        (("cited_by_count",), _range("cited_by_count")),
    )
    for plural in ("last_known_institutions", "last_known_institution"):
        for key, norm in (
            ("id", None),
            ("lineage", None),
            ("ror", norm_ror),
            ("country_code", norm_term),
            ("type", norm_term),
        ):
            name = f"last_known_institutions.{key}"
            extract = _dehydrated("last_known_institutions", key, None)
            table[f"{plural}.{key}"] = (
                _oid(name, extract) if norm is None else _term(name, extract, norm)
            )
    for key, norm in (
        ("id", None),
        ("lineage", None),
        ("ror", norm_ror),
        ("country_code", norm_term),
        ("type", norm_term),
    ):
        name = f"affiliations.institution.{key}"
        extract = _dehydrated("affiliations", key, "institution")
        table[name] = _oid(name, extract) if norm is None else _term(name, extract, norm)
    return table


@functools.cache
def filter_fields(entity: str) -> Mapping[str, FieldSpec]:
    """Implemented filter fields of ``entity`` (aliases map to the same spec)."""
    builders = {
        "works": _works_fields,
        "institutions": _institutions_fields,
        "authors": _authors_fields,
    }
    return builders[entity]()


def _sort_value(get: Callable[[Record], Any]) -> Callable[[Record], Any]:
    def value(r: Record) -> Any:
        v = get(r)
        if isinstance(v, str):
            return v.lower()
        if isinstance(v, bool) or not isinstance(v, int | float):
            return None
        return v

    return value


@functools.cache
def sort_fields(entity: str) -> Mapping[str, Callable[[Record], Any]]:
    """Implemented sort keys of ``entity``; ``relevance_score`` keeps the ID order."""
    common: dict[str, Callable[[Record], Any]] = {
        "cited_by_count": _sort_value(lambda r: r.get("cited_by_count")),
        "display_name": _sort_value(lambda r: r.get("display_name")),
        "relevance_score": lambda r: None,
    }
    if entity == "works":
        common.update(
            publication_date=_sort_value(lambda r: r.get("publication_date")),
            publication_year=_sort_value(lambda r: r.get("publication_year")),
            referenced_works_count=_sort_value(lambda r: r.get("referenced_works_count")),
            fwci=_sort_value(lambda r: r.get("fwci")),
        )
    else:
        common.update(works_count=_sort_value(lambda r: r.get("works_count")))
    return common


# ----------------------------------------------------------------- valid-field lists


def _fixture_list(name: str, marker: str) -> list[str]:
    message = json.loads((DATA_DIR / name).read_text(encoding="utf-8"))["message"]
    listed = message.split(marker, 1)[1].strip().rstrip(".")
    return [field.strip() for field in listed.split(",") if field.strip()]


@functools.cache
def _properties_snapshot() -> Mapping[str, Any]:
    path = DATA_DIR / "schema_openalex_properties_snapshot_2026-07-28.json"
    properties: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))["properties"]
    return properties


@functools.cache
def valid_filter_fields(entity: str) -> tuple[str, ...]:
    """Filter fields the API accepts for ``entity``, sorted, as its 400 message lists them.

    Works: the live API's list in ``fixture_error_400_invalid_filter_2026-03-02.json``.
    Institutions/authors: the property registry's filterable fields, plus the ID and
    search aliases (``openalex``, ``openalex_id``, ``*.search``) and the singular
    ``last_known_institution.*`` the API also accepts.
    """
    if entity == "works":
        return tuple(
            _fixture_list(
                "fixture_error_400_invalid_filter_2026-03-02.json",
                "Valid fields are underscore or hyphenated versions of:",
            )
        )
    props = _properties_snapshot()[entity]
    names = {name for name, p in props.items() if "filter" in p.get("actions", ())}
    names |= set(filter_fields(entity))
    return tuple(sorted(names))


@functools.cache
def valid_select_fields(entity: str) -> tuple[str, ...]:
    """Top-level fields ``select`` accepts, in the API's order where known.

    Works: the live list in ``fixture_error_400_invalid_select_2026-03-02.json``.
    Institutions/authors: the OpenAPI schema's properties, then any further top-level
    key seen in the recorded records.
    """
    if entity == "works":
        return tuple(
            _fixture_list(
                "fixture_error_400_invalid_select_2026-03-02.json",
                "Valid fields for select are:",
            )
        )
    spec = json.loads(
        (DATA_DIR / "schema_openalex_openapi_2026-08-02.json").read_text(encoding="utf-8")
    )
    schema_name = {"institutions": "Institution", "authors": "Author"}[entity]
    names = list(spec["components"]["schemas"][schema_name]["properties"])
    for record in default_records(entity):
        for key in record:
            if key not in names:
                names.append(key)
    return tuple(names)


# ------------------------------------------------------------------ filter parsing


@dataclass(frozen=True)
class Clause:
    """One ``field:value`` of a filter: OR (or AND) over ``values``, maybe negated."""

    field: str
    spec: FieldSpec
    values: tuple[str, ...]
    combine: str  # "or" | "and"
    negate: bool


def _field_spec(entity: str, key: str, purpose: str = "filter") -> FieldSpec:
    fields = filter_fields(entity)
    spec = fields.get(key)
    if spec is not None:
        return spec
    valid = valid_filter_fields(entity)
    if key in valid:
        raise _not_implemented(f"The {purpose} field {key}")
    raise _query_error(
        f"{key} is not a valid field. Valid fields are underscore or hyphenated versions of: "
        + ", ".join(valid)
    )


def _check_value(spec: FieldSpec, value: str) -> None:
    """Refuse values the API refuses for this field type (400)."""
    if value in ("null", "!null"):
        return
    raw = value[1:] if value.startswith("!") else value
    if spec.kind == "openalex_id" and parse_openalex_id(raw) is None:
        raise _query_error(
            f"'{raw.replace('https://openalex.org/', '')}' is not a valid OpenAlex ID."
        )
    if spec.kind == "bool" and raw.lower().strip() not in ("true", "false"):
        raise _query_error(
            f"Value for {spec.name} must be true or false, not {raw.lower().strip()}."
        )
    if spec.kind == "search" and any(word.startswith("!") for word in value.split()):
        raise _query_error(f"Search filters do not support the ! operator. Problem value: {value}")
    if spec.kind == "range":
        _range_predicate(spec.name, value)
    if spec.kind == "date":
        _date_predicate(spec, value)


def parse_filter(entity: str, raw: str | None) -> list[Clause]:
    """Parse a ``filter`` parameter value into clauses (AND between clauses).

    Raises
    ------
    ApiError
        400 for what the API refuses, 501 for valid fields not implemented here.

    Examples
    --------
    >>> [c.values for c in parse_filter("works", "publication_year:2020|2021,type:article")]
    [('2020', '2021'), ('article',)]
    >>> parse_filter("works", "institutions.id:!I1|I2")[0].negate
    True
    """
    if not raw:
        return []
    clauses: list[Clause] = []
    valid_keys = set(valid_filter_fields(entity)) | set(filter_fields(entity))
    for part in raw.split(","):
        if ":" not in part:
            raise _query_error(f"Invalid query parameter in {part}.")
        key, value = part.split(":", 1)
        key = key.strip().replace("-", "_")
        spec = _field_spec(entity, key)
        if "|" in value:
            for other in valid_keys:
                if f"{other}:" in value:
                    raise _query_error(
                        "It looks like you're trying to do an OR query between filters and "
                        "it's not supported. \nYou can do this: "
                        "institutions.country_code:fr|en, but not this: "
                        "institutions.country_code:gb|host_venue.issn:0957-1558. \n"
                        f"Problem value: {value}"
                    )
            members = value.split("|")
            if len(members) > MAX_OR_VALUES:
                raise _query_error(
                    f"Maximum number of values exceeded for {key}. Decrease values to "
                    f"{MAX_OR_VALUES} or below, or consider downloading the full dataset at "
                    "https://docs.openalex.org/download-snapshot"
                )
            negate = value.startswith("!")
            if negate:
                members = [m.replace("!", "") for m in members]
            else:
                for member in members:
                    if member.startswith("!"):
                        raise _query_error(
                            "The ! operator can only be used at the beginning of an OR query, "
                            "like /works?filter=concepts.id:!C144133560|C15744967, meaning NOT "
                            f"(C144133560 or C15744967). Problem value: {member}"
                        )
            for member in members:
                _check_value(spec, member)
            clauses.append(Clause(key, spec, tuple(members), "or", negate))
        elif " " in value and spec.kind in ("openalex_id", "term"):
            members = [m for m in value.split(" ") if m]
            if len(members) > MAX_OR_VALUES:
                raise _query_error(
                    f"Maximum number of values exceeded for {key}. Decrease values to "
                    f"{MAX_OR_VALUES} or below, or consider downloading the full dataset at "
                    "https://docs.openalex.org/download-snapshot"
                )
            for member in members:
                _check_value(spec, member)
            clauses.append(Clause(key, spec, tuple(members), "and", False))
        else:
            _check_value(spec, value)
            clauses.append(Clause(key, spec, (value,), "or", False))
    return clauses


def _number_or_error(param: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _query_error(f"Value for param {param} must be a number.") from None


def _range_predicate(param: str, value: str) -> Callable[[float | None], bool]:
    """Predicate over a record's number for one range value (RangeField semantics).

    Examples
    --------
    >>> p = _range_predicate("publication_year", "2020-2022")
    >>> [p(2019.0), p(2020.0), p(2022.0), p(None)]
    [False, True, True, False]
    >>> _range_predicate("publication_year", ">2020")(2020.0)
    False
    """
    v = value.strip()
    if v == "null":
        return lambda x: x is None
    if "<" in v:
        n = _number_or_error(param, v[1:])
        return lambda x: x is not None and x < n
    if v.startswith("-"):
        n = _number_or_error(param, v[1:])
        return lambda x: x is not None and x <= n
    if ">" in v:
        n = _number_or_error(param, v[1:])
        return lambda x: x is not None and x > n
    if v.endswith("-"):
        n = _number_or_error(param, v[:-1])
        return lambda x: x is not None and x >= n
    if v.startswith("!"):
        inner = _range_predicate(param, v[1:])
        return lambda x: not inner(x)
    if "-" in v:
        left, right = v.split("-")[:2]
        lo, hi = _number_or_error(param, left), _number_or_error(param, right)
        return lambda x: x is not None and lo <= x <= hi
    n = _number_or_error(param, v)
    return lambda x: x is not None and x == n


def _date_or_error(param: str, text: str) -> str:
    try:
        dt.datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise _query_error(
            f"Value for param {param} is an invalid date. Format is yyyy-mm-dd (e.g. 2020-05-17)."
        ) from None
    return text


def _date_predicate(spec: FieldSpec, value: str) -> Callable[[str | None], bool]:
    """Predicate over a record's ISO date for one date value (DateField semantics).

    Examples
    --------
    >>> spec = filter_fields("works")["from_publication_date"]
    >>> p = _date_predicate(spec, "2020-01-01")
    >>> [p("2019-12-31"), p("2020-01-01"), p(None)]
    [False, True, False]
    """
    v = value.strip()
    if v == "null":
        return lambda d: not d
    if "<" in v:
        op, day = "lt", _date_or_error(spec.name, v[1:])
    elif ">" in v:
        op, day = "gt", _date_or_error(spec.name, v[1:])
    else:
        op, day = spec.date_op, _date_or_error(spec.name, v)
    compare: dict[str, Callable[[str], bool]] = {
        "lt": lambda d: d < day,
        "gt": lambda d: d > day,
        "gte": lambda d: d >= day,
        "lte": lambda d: d <= day,
        "eq": lambda d: d == day,
    }
    check = compare[op]
    return lambda d: bool(d) and check(str(d)[:10])


def search_matches(text_lower: str, query: str) -> bool:
    """Case-insensitive match of a search query against lower-cased text.

    A double-quoted query is one phrase; otherwise every word must occur (``AND`` is
    ignored).

    Examples
    --------
    >>> search_matches("swin transformer: hierarchical vision", "Vision SWIN")
    True
    >>> search_matches("swin transformer", '"transformer swin"')
    False
    """
    q = query.strip()
    if len(q) >= 2 and q.startswith('"') and q.endswith('"'):
        return q[1:-1].lower() in text_lower
    words = [w.lower().strip('"') for w in q.split() if w != "AND"]
    return all(w in text_lower for w in words if w)


def _value_positions(store: EntityStore, spec: FieldSpec, value: str) -> frozenset[int] | set[int]:
    n = len(store.records)
    if spec.kind in ("openalex_id", "term", "bool"):
        if value.startswith("!") and value != "!null":
            return set(range(n)) - _value_positions(store, spec, value[1:])
        table, empty = store.index(
            spec.name, lambda r: {spec.norm(v) for v in spec.extract(r) if isinstance(v, str)}
        )
        if value == "null":
            return empty
        if value == "!null":
            return set(range(n)) - empty
        return table.get(spec.norm(value), frozenset())
    if spec.kind == "range":
        pred = _range_predicate(spec.name, value)
        return {i for i, r in enumerate(store.records) if pred(spec.extract(r))}
    if spec.kind == "date":
        dpred = _date_predicate(spec, value)
        return {i for i, r in enumerate(store.records) if dpred(spec.extract(r))}
    texts = store.texts(spec.name, spec.extract)
    return {i for i, text in enumerate(texts) if search_matches(text, value)}


def evaluate(store: EntityStore, clauses: Sequence[Clause], search: str | None = None) -> list[int]:
    """Positions (in ID order) of the records matching every clause and ``search``."""
    n = len(store.records)
    selected: set[int] | None = None
    for clause in clauses:
        sets = [_value_positions(store, clause.spec, v) for v in clause.values]
        if clause.combine == "and":
            hit: set[int] = set(range(n))
            for s in sets:
                hit &= s
        else:
            hit = set().union(*sets) if sets else set()
        if clause.negate:
            hit = set(range(n)) - hit
        selected = hit if selected is None else selected & hit
        if not selected:
            return []
    if search:
        spec = filter_fields(store.entity).get("default.search")
        if spec is None:  # pragma: no cover - every entity defines default.search
            raise _not_implemented("search")
        texts = store.texts(spec.name, spec.extract)
        hits = {i for i, text in enumerate(texts) if search_matches(text, search)}
        selected = hits if selected is None else selected & hits
    if selected is None:
        return list(range(n))
    return sorted(selected)


# ------------------------------------------------------------ sort, select, paging


def parse_sort(entity: str, raw: str | None) -> list[tuple[str, bool]]:
    """``sort`` into ``[(field, descending)]``; ``field:desc`` or ``-field``.

    Examples
    --------
    >>> parse_sort("works", "publication_date:desc,cited_by_count")
    [('publication_date', True), ('cited_by_count', False)]
    """
    if not raw:
        return []
    keys: list[tuple[str, bool]] = []
    implemented = sort_fields(entity)
    for part in raw.split(","):
        part = part.strip()
        descending = False
        if part.startswith("-"):
            part, descending = part[1:], True
        if ":" in part:
            part, direction = part.split(":", 1)
            descending = direction.strip().lower() == "desc"
        key = part.strip().replace("-", "_")
        if key not in implemented:
            _field_spec(entity, key, purpose="sort")  # 400 when the API has no such field
            raise _not_implemented(f"The sort field {key}")
        keys.append((key, descending))
    return keys


def apply_sort(
    entity: str, records: Sequence[Record], keys: Sequence[tuple[str, bool]]
) -> list[Record]:
    """Stable sort; records lacking a value go last whatever the direction; ties keep
    the ID order."""
    ordered = list(records)
    getters = sort_fields(entity)
    for key, descending in reversed(keys):
        get = getters[key]
        present = [r for r in ordered if get(r) is not None]
        missing = [r for r in ordered if get(r) is None]
        present.sort(key=get, reverse=descending)
        ordered = present + missing
    return ordered


def parse_select(entity: str, raw: str | None) -> tuple[str, ...] | None:
    """``select`` into top-level field names, refusing unknown ones like the API.

    Examples
    --------
    >>> parse_select("works", "id, doi")
    ('id', 'doi')
    >>> try:
    ...     parse_select("works", "DOESNTEXIST")
    ... except ApiError as exc:
    ...     print(exc.status, exc.message.split(". ")[0])
    400 DOESNTEXIST is not a valid select field
    """
    if raw is None or not raw.strip():
        return None
    fields = tuple(f.strip() for f in raw.split(",") if f.strip())
    valid = valid_select_fields(entity)
    for name in fields:
        if name not in valid:
            raise _query_error(
                f"{name} is not a valid select field. Valid fields for select are: "
                + ", ".join(valid)
                + "."
            )
    return fields


def apply_select(record: Record, fields: Sequence[str] | None) -> Record:
    """Only the selected top-level keys, in request order (null when the record lacks one)."""
    if fields is None:
        return record
    return {name: record.get(name) for name in fields}


@dataclass(frozen=True)
class Paging:
    """Validated paging parameters; ``cursor`` is None for basic (page) paging."""

    per_page: int
    page: int
    cursor: str | None


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name) or params.get(name.replace("-", "_"))
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise _query_error(f"Param {name} must be a number.") from None


def parse_paging(params: Mapping[str, str]) -> Paging:
    """``per-page``/``per_page``, ``page`` and ``cursor`` with the API's limits.

    Examples
    --------
    >>> parse_paging({"per_page": "200", "cursor": "*"})
    Paging(per_page=200, page=1, cursor='*')
    >>> try:
    ...     parse_paging({"per-page": "201"})
    ... except ApiError as exc:
    ...     print(exc.status, exc.error, exc.message)
    400 Pagination error. per-page parameter must be between 1 and 200
    """
    per_page = _int_param(params, "per-page", DEFAULT_PER_PAGE)
    page = _int_param(params, "page", 1)
    if page < 1:
        raise ApiError(400, PAGINATION_ERROR, "Page parameter must be greater than 0.")
    if per_page < 1 or per_page > MAX_PER_PAGE:
        raise ApiError(400, PAGINATION_ERROR, "per-page parameter must be between 1 and 200")
    if page * per_page > MAX_BASIC_PAGING_RESULTS:
        raise ApiError(
            400,
            PAGINATION_ERROR,
            "Maximum results size of 10,000 records is exceeded. Cursor pagination is "
            "required for records beyond 10,000. See: https://docs.openalex.org/api#cursor-paging",
        )
    cursor = params.get("cursor")
    return Paging(per_page, page, cursor if cursor else None)


def encode_cursor(offset: int, last_id: str) -> str:
    """Opaque cursor naming the position after the record ``last_id``.

    Examples
    --------
    >>> decode_cursor(encode_cursor(25, "W42"))
    (25, 'W42')
    """
    payload = json.dumps([offset, short_openalex_id(last_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, str]:
    """Inverse of :func:`encode_cursor`; 400 for a cursor this server did not issue."""
    try:
        offset, last_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(offset, int) or not isinstance(last_id, str) or offset < 1:
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise _query_error(f"Invalid cursor: {cursor}") from None
    return offset, last_id


def cursor_start(cursor: str, ordered: Sequence[Record]) -> int:
    """Index of the first record after ``cursor`` in ``ordered`` (``*`` is 0)."""
    if cursor == "*":
        return 0
    offset, last_id = decode_cursor(cursor)
    if offset <= len(ordered) and short_openalex_id(str(ordered[offset - 1]["id"])) == last_id:
        return offset
    for i, record in enumerate(ordered):  # data changed under the cursor: resync on the id
        if short_openalex_id(str(record["id"])) == last_id:
            return i + 1
    raise _query_error(f"Invalid cursor: {cursor}")


def check_params(params: Mapping[str, list[str]]) -> None:
    """Refuse unknown parameters (400), repeated ``filter`` (400) and unimplemented
    ones (501), and search values the API refuses."""
    for name in params:
        if name not in VALID_PARAMS:
            raise _query_error(
                f"{name} is not a valid parameter. Valid parameters are: {', '.join(VALID_PARAMS)}."
            )
    if len(params.get("filter", [])) > 1:
        raise _query_error(
            "Only one filter parameter is allowed. Your URL contains filters like: "
            "/works?filter=publication_year:2020&filter=is_open_access:true. Combine and "
            "separate filters with a comma, like: "
            "/works?filter=publication_year:2020,is_open_access:true."
        )
    grouped = any(k in params for k in ("group_by", "group-by"))
    if grouped and "select" in params:
        raise _query_error("select does not work with group_by.")
    search = (params.get("search") or [""])[0]
    if any(word.startswith("!") for word in search.split()):
        raise _query_error(
            f"The search parameter does not support the ! operator. Problem value: {search}"
        )
    if "|" in search:
        raise _query_error(
            f"The search parameter does not support the | operator. Problem value: {search}"
        )
    for name in params:
        if name in UNIMPLEMENTED_PARAMS:
            raise _not_implemented(f"The {name} parameter")


__all__ = [
    "ENTITIES",
    "ApiError",
    "Clause",
    "FieldSpec",
    "Paging",
    "apply_select",
    "apply_sort",
    "check_params",
    "cursor_start",
    "encode_cursor",
    "evaluate",
    "filter_fields",
    "parse_filter",
    "parse_paging",
    "parse_select",
    "parse_sort",
    "search_matches",
    "valid_filter_fields",
    "valid_select_fields",
]
