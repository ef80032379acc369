"""Tests of the OpenAlex-compatible test server (tests/oaserver).

Every expectation about which records a query returns is computed here, independently
of the server's code, from the recorded real records read straight from
../shared/data/openalex.  Response shapes are checked against the official OpenAPI
spec (tests/oaserver/spec.py).
"""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyalex
import pytest
import requests

from tests.oaserver import (
    Fault,
    FaultKind,
    OpenAlexServer,
    dedupe,
    pyalex_session_for,
)
from tests.oaserver.spec import DEVIATIONS, schema_errors

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "openalex"

BEIHANG = "I82880672"
MSRA = "I4210113369"
USTC = "I126520041"
HIT = "I204983213"
CAS = "I19820366"
CAS_ROR = "034t30j35"  # Chinese Academy of Sciences, from institutions_bibgraph_2025-10
MICROSOFT = "I1290206253"  # MSRA's parent in its lineage
MYERS_2000 = "W2162348455"  # fixture_work_single_W2162348455
BIG_AUTHOR_LIST = "W2168909179"  # 249 authorships in the recorded single-work record


# ----------------------------------------------------------------- independent data


def _read(*names: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in names:
        with gzip.open(DATA / name, "rt", encoding="utf-8") as handle:
            out.extend(json.loads(line) for line in handle if line.strip())
    return out


@pytest.fixture(scope="module")
def works() -> list[dict[str, Any]]:
    records = _read(
        "works_bibgraph_2025-10.jsonl.gz", "works_openalexpro_2025-11_to_2026-03.jsonl.gz"
    )
    assert len({r["id"] for r in records}) == 1210
    return records


@pytest.fixture(scope="module")
def institutions() -> list[dict[str, Any]]:
    return _read(
        "institutions_bibgraph_2025-10.jsonl.gz",
        "snapshot_institutions_updated_date_2023-09-04_part_000.jsonl.gz",
    )


@pytest.fixture(scope="module")
def authors() -> list[dict[str, Any]]:
    return _read("authors_bibgraph_2025-10.jsonl.gz")


def short(url: str | None) -> str:
    return (url or "").rsplit("/", 1)[-1]


def insts(w: dict[str, Any]) -> list[dict[str, Any]]:
    found = [i for a in w["authorships"] for i in a["institutions"]]
    return found + list(w.get("institution_assertions") or [])


def title_of(w: dict[str, Any]) -> str:
    return (w.get("title") or w.get("display_name") or "").lower()


def abstract_of(w: dict[str, Any]) -> str:
    index = w.get("abstract_inverted_index") or {}
    return " ".join(
        word for _, word in sorted((p, word) for word, ps in index.items() for p in ps)
    ).lower()


def ids_where(records: list[dict[str, Any]], pred: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {r["id"] for r in records if pred(r)}


# --------------------------------------------------------------------------- helpers


def get(oa: OpenAlexServer, path: str, timeout: float = 10, **params: Any) -> requests.Response:
    return requests.get(oa.url + path, params=params, timeout=timeout)


def walk(
    oa: OpenAlexServer, path: str = "/works", per_page: int = 200, **params: Any
) -> tuple[list[str], int, list[dict[str, Any]]]:
    """Cursor-page through a list; return the ids in order, meta.count and the metas."""
    ids: list[str] = []
    metas: list[dict[str, Any]] = []
    cursor = "*"
    for _ in range(200):
        body = get(oa, path, cursor=cursor, per_page=per_page, **params).json()
        metas.append(body["meta"])
        ids.extend(r["id"] for r in body["results"])
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            assert body["results"] == []
            return ids, metas[0]["count"], metas
    raise AssertionError("cursor walk did not end")


def walk_validated(
    oa: OpenAlexServer, path: str, schema: str, records: list[dict[str, Any]]
) -> tuple[list[str], int, list[dict[str, Any]]]:
    """Like :func:`walk`, but each page must validate and its records equal ``records``."""
    recorded = {r["id"]: r for r in records}
    ids: list[str] = []
    metas: list[dict[str, Any]] = []
    cursor: str | None = "*"
    while cursor is not None:
        body = get(oa, path, cursor=cursor, per_page=200).json()
        assert schema_errors(body, schema) == []
        assert all(r == recorded[r["id"]] for r in body["results"])
        ids.extend(r["id"] for r in body["results"])
        metas.append(body["meta"])
        cursor = body["meta"]["next_cursor"]
    return ids, metas[0]["count"], metas


def matching_ids(oa: OpenAlexServer, path: str = "/works", **params: Any) -> set[str]:
    """The ids a filter matches (``select=id`` keeps the responses small)."""
    ids, count, _ = walk(oa, path, select="id", **params)
    assert len(ids) == len(set(ids)) == count
    return set(ids)


def assert_error(
    resp: requests.Response, status: int, error: str, message_start: str
) -> dict[str, Any]:
    assert resp.status_code == status, resp.text[:300]
    body: dict[str, Any] = resp.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == error
    assert body["message"].startswith(message_start), body["message"][:300]
    assert schema_errors(body, "Error") == []
    return body


def assert_list_shape(body: dict[str, Any], schema: str, cursor: bool) -> None:
    assert schema_errors(body, schema) == []
    assert list(body) == ["meta", "results", "group_by"]
    meta = body["meta"]
    expected = ["count", "db_response_time_ms", "page", "per_page"]
    expected += ["next_cursor"] if cursor else []
    assert list(meta) == [*expected, "groups_count", "cost_usd"]
    assert isinstance(meta["count"], int) and isinstance(meta["per_page"], int)
    assert isinstance(meta["db_response_time_ms"], int)
    assert meta["groups_count"] is None
    assert (meta["page"] is None) if cursor else isinstance(meta["page"], int)


# ------------------------------------------------------------------- schema checks


def test_spec_deviations_are_the_live_apis_own(works: list[dict[str, Any]]) -> None:
    """Recorded live responses break the strict spec and pass the lenient reading, so
    the lenient reading describes the API, not this server."""
    fixtures = {
        "fixture_works_list_keypaper_page_2_2025.json": "WorksListResponse",
        "fixture_works_list_select_beihang_msra_2025-10-29.json": "WorksListResponse",
        "fixture_work_single_W2162348455_2026-03-02.json": "Work",
        "fixture_work_single_null_title_W4234567890_2026-03-02.json": "Work",
    }
    for name, schema in fixtures.items():
        body = json.loads((DATA / name).read_text(encoding="utf-8"))
        assert schema_errors(body, schema, lenient=False), name
        assert schema_errors(body, schema) == [], name
    for name in (
        "fixture_works_list_cursor_page1_biodiversity_finance_2026-03-02.json.gz",
        "fixture_works_list_global_south_msra_2025-10-29.json.gz",
    ):
        with gzip.open(DATA / name) as handle:
            body = json.loads(handle.read())
        assert schema_errors(body, "WorksListResponse") == [], name
    assert len(DEVIATIONS) == 3
    bad = {"meta": {"count": "7"}, "results": [{"id": 7, "authorships": {}}], "group_by": []}
    assert len(schema_errors(bad, "WorksListResponse")) == 3


@pytest.mark.parametrize(
    ("path", "schema", "params"),
    [
        ("/works", "WorksListResponse", {"filter": f"authorships.institutions.lineage:{CAS}"}),
        ("/works", "WorksListResponse", {"per_page": 60, "page": 3}),
        ("/institutions", "InstitutionsListResponse", {"filter": "country_code:cn"}),
        ("/authors", "AuthorsListResponse", {"per-page": 100}),
    ],
)
def test_list_responses_match_the_spec(
    oa: OpenAlexServer, path: str, schema: str, params: dict[str, Any]
) -> None:
    resp = get(oa, path, **params)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    body = resp.json()
    assert_list_shape(body, schema, cursor=False)
    assert body["results"]
    cursor_body = get(oa, path, cursor="*", **params).json()
    assert_list_shape(cursor_body, schema, cursor=True)


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        (f"/works/{MYERS_2000}", "Work"),
        (f"/works/{BIG_AUTHOR_LIST}", "Work"),
        (f"/institutions/{CAS}", "Institution"),
        ("/authors/A5023888391", "Author"),
    ],
)
def test_single_entities_match_the_spec(oa: OpenAlexServer, path: str, schema: str) -> None:
    body = get(oa, path).json()
    assert schema_errors(body, schema) == []


def test_every_recorded_record_is_served_unchanged(
    oa: OpenAlexServer,
    works: list[dict[str, Any]],
    institutions: list[dict[str, Any]],
    authors: list[dict[str, Any]],
) -> None:
    """Cursor-walk every endpoint: all records come back once, equal to the recorded
    ones, and every page validates against the spec."""
    schemas = {
        "/works": "WorksListResponse",
        "/institutions": "InstitutionsListResponse",
        "/authors": "AuthorsListResponse",
    }
    for path, records in (
        ("/works", works),
        ("/institutions", institutions),
        ("/authors", authors),
    ):
        ids, count, _ = walk_validated(oa, path, schemas[path], records)
        assert len(ids) == len(set(ids)) == count == len(records)
        assert ids == sorted(ids, key=lambda i: int(short(i)[1:]))
    assert len(works) == 1210
    single = json.loads(
        (DATA / "fixture_work_single_W2162348455_2026-03-02.json").read_text(encoding="utf-8")
    )
    assert get(oa, f"/works/{MYERS_2000}").json()["id"] == single["id"]


# ------------------------------------------------------------------------- paging


def test_cursor_paging_yields_each_match_once(
    oa: OpenAlexServer, works: list[dict[str, Any]]
) -> None:
    expected = ids_where(works, lambda w: any(i.get("country_code") == "CN" for i in insts(w)))
    ids, count, metas = walk(oa, per_page=7, filter="authorships.institutions.country_code:cn")
    assert count == len(expected) == len(ids) == len(set(ids))
    assert set(ids) == expected
    assert ids == sorted(ids, key=lambda i: int(short(i)[1:]))  # stable id order
    assert all(m["page"] is None and m["per_page"] == 7 and m["count"] == count for m in metas)
    assert len(metas) == -(-count // 7) + 1  # the last page is the empty one


def test_page_paging_covers_the_results_in_order(oa: OpenAlexServer) -> None:
    seen: list[str] = []
    for page in itertools.count(1):
        body = get(oa, "/works", page=page, per_page=50, filter="publication_year:2000-2010").json()
        assert body["meta"]["page"] == page and "next_cursor" not in body["meta"]
        if not body["results"]:
            break
        seen.extend(r["id"] for r in body["results"])
    assert len(seen) == len(set(seen)) == body["meta"]["count"]
    assert seen == matching_ids_in_order(oa, filter="publication_year:2000-2010")


def matching_ids_in_order(oa: OpenAlexServer, **params: Any) -> list[str]:
    return walk(oa, select="id", **params)[0]


def test_invalid_cursor_is_refused(oa: OpenAlexServer) -> None:
    assert_error(
        get(oa, "/works", cursor="not-a-cursor"),
        400,
        "Invalid query parameters error.",
        "Invalid cursor",
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"per-page": 201}, "per-page parameter must be between 1 and 200"),
        ({"per_page": 0}, "per-page parameter must be between 1 and 200"),
        ({"per_page": 200, "page": 51}, "Maximum results size of 10,000 records is exceeded."),
        ({"per_page": 25, "page": 401}, "Maximum results size of 10,000 records is exceeded."),
        ({"page": 0}, "Page parameter must be greater than 0."),
    ],
)
def test_paging_limits(oa: OpenAlexServer, params: dict[str, Any], message: str) -> None:
    assert_error(get(oa, "/works", **params), 400, "Pagination error.", message)


def test_paging_at_the_limit_is_allowed(oa: OpenAlexServer) -> None:
    body = get(oa, "/works", per_page=200, page=50).json()
    assert body["meta"]["page"] == 50 and body["results"] == []
    assert get(oa, "/works", per_page="x").json()["message"] == "Param per-page must be a number."


# --------------------------------------------------------------------------- select


def test_select_returns_only_those_keys(oa: OpenAlexServer) -> None:
    body = get(oa, "/works", select="id,doi,authorships", per_page=200).json()
    assert body["results"] and all(list(r) == ["id", "doi", "authorships"] for r in body["results"])
    assert schema_errors(body, "WorksListResponse") == []
    single = get(oa, f"/works/{MYERS_2000}", select="display_name,publication_year").json()
    assert single == {
        "display_name": "Biodiversity hotspots for conservation priorities",
        "publication_year": 2000,
    }
    inst = get(oa, "/institutions", select="id,ror,lineage", filter=f"openalex:{CAS}").json()[
        "results"
    ]
    assert inst == [
        {
            "id": f"https://openalex.org/{CAS}",
            "ror": f"https://ror.org/{CAS_ROR}",
            "lineage": [f"https://openalex.org/{CAS}"],
        }
    ]


def test_bad_select_gives_the_apis_400(oa: OpenAlexServer) -> None:
    fixture = json.loads(
        (DATA / "fixture_error_400_invalid_select_2026-03-02.json").read_text(encoding="utf-8")
    )
    # the fixture was recorded for GET /works/W1775749144?select=DOESNTEXIST
    resp = get(oa, "/works/W1775749144", select="DOESNTEXIST")
    assert resp.status_code == 400 and resp.json() == fixture
    assert get(oa, "/works", select="id,DOESNTEXIST").json() == fixture
    assert_error(
        get(oa, "/authors", select="nope"),
        400,
        "Invalid query parameters error.",
        "nope is not a valid select field. Valid fields for select are: id, orcid",
    )


# ---------------------------------------------------------------------------- filters


W = dict[str, Any]


def _works_filter_cases() -> list[tuple[str, Callable[[W], bool]]]:
    def inst_ids(w: W) -> set[str]:
        return {short(i.get("id")) for i in insts(w)}

    def lineage(w: W) -> set[str]:
        return {short(x) for i in insts(w) for x in i.get("lineage") or []}

    def author_ids(w: W) -> set[str]:
        return {short(a["author"].get("id")) for a in w["authorships"]}

    def year(w: W) -> int:
        return int(w["publication_year"])

    def raw_affs(w: W) -> str:
        parts = [s for a in w["authorships"] for s in a.get("raw_affiliation_strings") or []]
        parts += [
            f.get("raw_affiliation_string") or ""
            for a in w["authorships"]
            for f in a.get("affiliations") or []
        ]
        return "\n".join(parts).lower()

    return [
        (f"openalex:{MYERS_2000}", lambda w: short(w["id"]) == MYERS_2000),
        (
            f"ids.openalex:https://openalex.org/{MYERS_2000.lower()}",
            lambda w: short(w["id"]) == MYERS_2000,
        ),
        (
            "doi:10.1038/35002501",
            lambda w: (w.get("doi") or "").lower() == "https://doi.org/10.1038/35002501",
        ),
        (
            "doi:https://doi.org/10.1038/35002501",
            lambda w: (w.get("doi") or "").lower() == "https://doi.org/10.1038/35002501",
        ),
        (f"authorships.institutions.id:{CAS}", lambda w: CAS in inst_ids(w)),
        (f"authorships.institutions.id:https://openalex.org/{MSRA}", lambda w: MSRA in inst_ids(w)),
        (f"institutions.id:{USTC.lower()}", lambda w: USTC in inst_ids(w)),
        (
            f"institutions.id:{BEIHANG}|{MSRA}|{HIT}",
            lambda w: bool({BEIHANG, MSRA, HIT} & inst_ids(w)),
        ),
        (f"authorships.institutions.id:!{CAS}", lambda w: CAS not in inst_ids(w)),
        (f"authorships.institutions.id:!{CAS}|{MSRA}", lambda w: not ({CAS, MSRA} & inst_ids(w))),
        (f"authorships.institutions.id:{MSRA} {USTC}", lambda w: {MSRA, USTC} <= inst_ids(w)),
        ("authorships.institutions.id:null", lambda w: not inst_ids(w) - {""}),
        (f"authorships.institutions.lineage:{CAS}", lambda w: CAS in lineage(w)),
        (f"authorships.institutions.lineage:{MICROSOFT}", lambda w: MICROSOFT in lineage(w)),
        (
            f"authorships.institutions.ror:https://ror.org/{CAS_ROR}",
            lambda w: any(i.get("ror") == f"https://ror.org/{CAS_ROR}" for i in insts(w)),
        ),
        (
            f"institutions.ror:{CAS_ROR.upper()}",
            lambda w: any(i.get("ror") == f"https://ror.org/{CAS_ROR}" for i in insts(w)),
        ),
        (
            "authorships.institutions.country_code:CN",
            lambda w: any(i.get("country_code") == "CN" for i in insts(w)),
        ),
        (
            "institutions.country_code:cn|gb",
            lambda w: any(i.get("country_code") in ("CN", "GB") for i in insts(w)),
        ),
        ("authorships.author.id:A5023888391", lambda w: "A5023888391" in author_ids(w)),
        ("author.id:https://openalex.org/A5048491430", lambda w: "A5048491430" in author_ids(w)),
        (
            "authorships.author.orcid:0000-0001-6187-6610",
            lambda w: any(
                a["author"].get("orcid") == "https://orcid.org/0000-0001-6187-6610"
                for a in w["authorships"]
            ),
        ),
        (
            "author.orcid:https://orcid.org/0000-0003-1613-5981",
            lambda w: any(
                a["author"].get("orcid") == "https://orcid.org/0000-0003-1613-5981"
                for a in w["authorships"]
            ),
        ),
        (
            "from_publication_date:2020-01-01",
            lambda w: (w.get("publication_date") or "") >= "2020-01-01",
        ),
        (
            "to_publication_date:2005-06-30",
            lambda w: bool(w.get("publication_date")) and w["publication_date"] <= "2005-06-30",
        ),
        (
            "from_publication_date:2010-01-01,to_publication_date:2010-12-31",
            lambda w: "2010-01-01" <= (w.get("publication_date") or "") <= "2010-12-31",
        ),
        ("publication_year:2020", lambda w: year(w) == 2020),
        ("publication_year:2020-2024", lambda w: 2020 <= year(w) <= 2024),
        ("publication_year:>2020", lambda w: year(w) > 2020),
        ("publication_year:<2000", lambda w: year(w) < 2000),
        ("publication_year:2019|2021", lambda w: year(w) in (2019, 2021)),
        ("publication_year:!2020", lambda w: year(w) != 2020),
        ("cited_by_count:>10000", lambda w: w["cited_by_count"] > 10000),
        (
            "primary_topic.id:T10319",
            lambda w: short((w.get("primary_topic") or {}).get("id")) == "T10319",
        ),
        (
            "topics.id:https://openalex.org/T10102",
            lambda w: any(short(t["id"]) == "T10102" for t in w.get("topics") or []),
        ),
        (
            "keywords.id:ecology",
            lambda w: any(k["id"].endswith("/ecology") for k in w.get("keywords") or []),
        ),
        (
            "keywords.id:https://openalex.org/keywords/business",
            lambda w: any(k["id"].endswith("/business") for k in w.get("keywords") or []),
        ),
        ("title.search:transformer", lambda w: "transformer" in title_of(w)),
        (
            "title.search:Biodiversity hotspots",
            lambda w: "biodiversity" in title_of(w) and "hotspots" in title_of(w),
        ),
        ("display_name.search:CRISPR", lambda w: "crispr" in title_of(w)),
        (
            "default.search:deep learning",
            lambda w: all(x in title_of(w) + "\n" + abstract_of(w) for x in ("deep", "learning")),
        ),
        (
            "title_and_abstract.search:climate",
            lambda w: "climate" in title_of(w) + "\n" + abstract_of(w),
        ),
        ("raw_affiliation_strings.search:Beihang", lambda w: "beihang" in raw_affs(w)),
        (
            "raw_affiliation_strings.search:Chinese Academy of Sciences",
            lambda w: all(x in raw_affs(w) for x in ("chinese", "academy", "sciences")),
        ),
        ("type:article", lambda w: w.get("type") == "article"),
        ("type:!article", lambda w: w.get("type") != "article"),
        ("type:book|review", lambda w: w.get("type") in ("book", "review")),
        ("is_retracted:true", lambda w: w.get("is_retracted") is True),
        ("open_access.is_oa:false", lambda w: w["open_access"].get("is_oa") is False),
        ("has_doi:false", lambda w: not w.get("doi")),
        (
            f"authorships.institutions.country_code:cn,publication_year:>2015,institutions.id:!{CAS}",
            lambda w: (
                any(i.get("country_code") == "CN" for i in insts(w))
                and year(w) > 2015
                and CAS not in inst_ids(w)
            ),
        ),
        (
            "from-publication-date:2020-01-01",
            lambda w: (w.get("publication_date") or "") >= "2020-01-01",
        ),
    ]


@pytest.mark.parametrize(
    ("filter_", "pred"), _works_filter_cases(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_works_filters_match_an_independent_computation(
    oa: OpenAlexServer, works: list[dict[str, Any]], filter_: str, pred: Callable[[W], bool]
) -> None:
    expected = ids_where(works, pred)
    assert matching_ids(oa, filter=filter_) == expected


def test_filter_cases_are_not_vacuous(works: list[dict[str, Any]]) -> None:
    """Every filter case above selects something and leaves something out."""
    for filter_, pred in _works_filter_cases():
        hits = ids_where(works, pred)
        assert 0 < len(hits) < len(works), filter_


INST = dict[str, Any]


@pytest.mark.parametrize(
    ("filter_", "pred"),
    [
        (f"ror:{CAS_ROR}", lambda i: i["ror"] == f"https://ror.org/{CAS_ROR}"),
        (f"ror:https://ror.org/{CAS_ROR}", lambda i: i["ror"] == f"https://ror.org/{CAS_ROR}"),
        (f"openalex:{CAS}", lambda i: short(i["id"]) == CAS),
        (
            f"ids.openalex:https://openalex.org/{CAS}|I4210124069",
            lambda i: short(i["id"]) in (CAS, "I4210124069"),
        ),
        ("country_code:CN", lambda i: i.get("country_code") == "CN"),
        ("country_code:!us", lambda i: i.get("country_code") != "US"),
        ("lineage:I48633490", lambda i: "https://openalex.org/I48633490" in i["lineage"]),
        ("type:education", lambda i: i["type"] == "education"),
        ("display_name.search:academy", lambda i: "academy" in i["display_name"].lower()),
    ],
)
def test_institution_filters(
    oa: OpenAlexServer, institutions: list[INST], filter_: str, pred: Callable[[INST], bool]
) -> None:
    expected = ids_where(institutions, pred)
    assert expected and len(expected) < len(institutions)
    assert matching_ids(oa, "/institutions", filter=filter_) == expected


@pytest.mark.parametrize(
    ("filter_", "pred"),
    [
        (
            "orcid:0000-0002-2335-8801",
            lambda a: a["orcid"] == "https://orcid.org/0000-0002-2335-8801",
        ),
        (
            "orcid:https://orcid.org/0000-0002-2335-8801",
            lambda a: a["orcid"] == "https://orcid.org/0000-0002-2335-8801",
        ),
        ("openalex:A5000042837", lambda a: short(a["id"]) == "A5000042837"),
        (
            "last_known_institutions.id:I161318765",
            lambda a: any(short(i["id"]) == "I161318765" for i in a["last_known_institutions"]),
        ),
        (
            "affiliations.institution.id:https://openalex.org/I161318765",
            lambda a: any(short(f["institution"]["id"]) == "I161318765" for f in a["affiliations"]),
        ),
        (
            "last_known_institutions.country_code:cn",
            lambda a: any(i.get("country_code") == "CN" for i in a["last_known_institutions"]),
        ),
        ("display_name.search:zhou", lambda a: "zhou" in a["display_name"].lower()),
        ("has_orcid:false", lambda a: not a.get("orcid")),
    ],
)
def test_author_filters(
    oa: OpenAlexServer,
    authors: list[dict[str, Any]],
    filter_: str,
    pred: Callable[[dict[str, Any]], bool],
) -> None:
    expected = ids_where(authors, pred)
    assert expected and len(expected) < len(authors)
    assert matching_ids(oa, "/authors", filter=filter_) == expected


def test_or_filter_takes_100_values_and_refuses_101(
    oa: OpenAlexServer, works: list[dict[str, Any]]
) -> None:
    ids = [short(w["id"]) for w in works[::12]][:101]
    assert len(ids) == 101
    body = get(oa, "/works", filter="openalex:" + "|".join(ids[:100]), per_page=200).json()
    assert body["meta"]["count"] == 100
    assert {short(r["id"]) for r in body["results"]} == set(ids[:100])
    assert_error(
        get(oa, "/works", filter="openalex:" + "|".join(ids)),
        400,
        "Invalid query parameters error.",
        "Maximum number of values exceeded for openalex. Decrease values to 100 or below",
    )


def test_unknown_filter_gives_the_recorded_400_exactly(oa: OpenAlexServer) -> None:
    fixture = json.loads(
        (DATA / "fixture_error_400_invalid_filter_2026-03-02.json").read_text(encoding="utf-8")
    )
    resp = get(oa, "/works", filter="DOESNTEXIST:1")
    assert resp.status_code == 400
    assert resp.json() == fixture
    body = assert_error(
        get(oa, "/institutions", filter="author.id:A1"),
        400,
        "Invalid query parameters error.",
        "author.id is not a valid field. Valid fields are underscore or hyphenated versions of: ",
    )
    assert "lineage" in body["message"] and "ror" in body["message"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"filter": "publication_year"}, "Invalid query parameter in publication_year."),
        (
            {"filter": "institutions.id:I1|type:article"},
            "It looks like you're trying to do an OR query between filters",
        ),
        (
            {"filter": "institutions.id:I1|!I2"},
            "The ! operator can only be used at the beginning of an OR query",
        ),
        ({"filter": "institutions.id:Beihang"}, "'Beihang' is not a valid OpenAlex ID."),
        (
            {"filter": "from_publication_date:2020-13-01"},
            "Value for param from_publication_date is an invalid date.",
        ),
        (
            {"filter": "publication_year:twenty"},
            "Value for param publication_year must be a number.",
        ),
        (
            {"filter": "is_retracted:maybe"},
            "Value for is_retracted must be true or false, not maybe.",
        ),
        ({"filter": "title.search:!cancer"}, "Search filters do not support the ! operator."),
        ({"search": "a|b"}, "The search parameter does not support the | operator."),
        ({"bogus": "1"}, "bogus is not a valid parameter. Valid parameters are: apc_sum, api-key"),
        ({"sort": "nonsense:desc"}, "nonsense is not a valid field."),
    ],
)
def test_refused_queries(oa: OpenAlexServer, params: dict[str, Any], message: str) -> None:
    assert_error(get(oa, "/works", **params), 400, "Invalid query parameters error.", message)


def test_repeated_filter_parameter_is_refused(oa: OpenAlexServer) -> None:
    resp = requests.get(
        f"{oa.url}/works?filter=type:article&filter=publication_year:2020", timeout=10
    )
    assert_error(
        resp, 400, "Invalid query parameters error.", "Only one filter parameter is allowed."
    )


@pytest.mark.parametrize(
    "params",
    [{"filter": "fulltext.search:cancer"}, {"group_by": "type"}, {"sample": "10"}, {"sort": "doi"}],
)
def test_valid_but_unimplemented_features_say_so(
    oa: OpenAlexServer, params: dict[str, Any]
) -> None:
    body = assert_error(
        get(oa, "/works", **params), 501, "Not implemented by the test server.", "The "
    )
    assert "does not implement it" in body["message"]


def test_search_parameter_and_mailto(oa: OpenAlexServer, works: list[dict[str, Any]]) -> None:
    expected = ids_where(works, lambda w: "hotspots" in title_of(w) + "\n" + abstract_of(w))
    resp = get(oa, "/works", search="HOTSPOTS", mailto="someone@example.org", per_page=200)
    assert {r["id"] for r in resp.json()["results"]} == expected and expected
    assert resp.json()["meta"]["cost_usd"] == 0.001  # search costs 10 credits
    assert resp.headers["X-RateLimit-Credits-Used"] == "10"


# ------------------------------------------------------------------------------ sort


@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_sort_by_publication_date(
    oa: OpenAlexServer, works: list[dict[str, Any]], direction: str
) -> None:
    ids = matching_ids_in_order(
        oa, filter=f"authorships.institutions.lineage:{CAS}", sort=f"publication_date:{direction}"
    )
    by_id = {w["id"]: w for w in works}
    dates = [by_id[i].get("publication_date") for i in ids]
    known = [d for d in dates if d is not None]
    assert dates == known + [None] * (len(dates) - len(known))  # unknown dates last
    assert known == sorted(known, reverse=direction == "desc")
    assert len(set(known)) > 3


def test_sort_by_cited_by_count_desc_with_page_paging(
    oa: OpenAlexServer, works: list[dict[str, Any]]
) -> None:
    body = get(oa, "/works", sort="cited_by_count:desc", per_page=5).json()
    top = sorted(works, key=lambda w: (-w["cited_by_count"], int(short(w["id"])[1:])))[:5]
    assert [r["id"] for r in body["results"]] == [w["id"] for w in top]


# --------------------------------------------------------------------- single entity


def test_single_entity_lookups(oa: OpenAlexServer, authors: list[dict[str, Any]]) -> None:
    myers = get(oa, f"/works/{MYERS_2000}").json()
    for path in (
        "/works/doi:10.1038/35002501",
        "/works/https://doi.org/10.1038/35002501",
        "/works/DOI:10.1038/35002501",
    ):
        resp = get(oa, path)
        assert resp.status_code == 200 and resp.json() == myers, path
    cas = get(oa, f"/institutions/{CAS}").json()
    assert cas["display_name"] == "Chinese Academy of Sciences"
    assert get(oa, f"/institutions/ror:{CAS_ROR}").json() == cas
    assert get(oa, f"/institutions/https://ror.org/{CAS_ROR}").json() == cas
    author = next(a for a in authors if a.get("orcid"))
    orcid = short(author["orcid"])
    assert get(oa, f"/authors/{short(author['id'])}").json() == author
    assert get(oa, f"/authors/orcid:{orcid}").json() == author
    assert get(oa, f"/authors/https://orcid.org/{orcid}").json() == author


def test_non_canonical_ids_redirect_like_the_api(oa: OpenAlexServer) -> None:
    raw = requests.get(f"{oa.url}/works/w2162348455?select=id", allow_redirects=False, timeout=10)
    assert raw.status_code == 302
    assert raw.headers["Location"] == f"{oa.url}/works/{MYERS_2000}?select=id"
    followed = requests.get(f"{oa.url}/works/https://openalex.org/{MYERS_2000}", timeout=10)
    assert followed.status_code == 200 and followed.json()["id"].endswith(MYERS_2000)


def test_unknown_entity_is_404(oa: OpenAlexServer) -> None:
    assert_error(get(oa, "/works/W9999999999"), 404, "Not Found", "Work W9999999999 not found")
    assert_error(
        get(oa, "/institutions/ror:00000zz00"),
        404,
        "Not Found",
        "Institution ror:00000zz00 not found",
    )
    assert_error(get(oa, "/authors/orcid:0000-0000-0000-0000"), 404, "Not Found", "Author orcid:")
    assert_error(get(oa, "/nothing"), 404, "Not Found", "The requested URL was not found")


def test_merged_id_redirects_with_301(oa: OpenAlexServer) -> None:
    oa.configure(merged={"W1000000099": MYERS_2000, "https://openalex.org/I999": CAS})
    raw = requests.get(f"{oa.url}/works/W1000000099", allow_redirects=False, timeout=10)
    assert raw.status_code == 301
    assert raw.headers["Location"] == f"{oa.url}/works/{MYERS_2000}"
    followed = requests.get(f"{oa.url}/works/W1000000099", timeout=10)
    assert followed.status_code == 200 and followed.json()["id"].endswith(MYERS_2000)
    assert [r.status_code for r in followed.history] == [301]
    assert requests.get(f"{oa.url}/institutions/I999", timeout=10).json()["id"].endswith(CAS)
    oa.reset()
    assert get(oa, "/works/W1000000099").status_code == 404


# ---------------------------------------------------------------------------- auth


def test_cursor_paging_needs_a_key_in_auth_mode(oa: OpenAlexServer) -> None:
    oa.configure(require_api_key="cursor")
    key = "k-secret-7f3a9c"
    denied = get(oa, "/works", cursor="*")
    body = assert_error(denied, 401, "API key required", "Cursor paging requires an API key")
    assert "API key" in body["error"]  # what pyalex tests
    assert get(oa, "/works", page=1).status_code == 200  # basic paging stays open
    with_header = requests.get(
        f"{oa.url}/works",
        params={"cursor": "*"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert with_header.status_code == 200
    assert get(oa, "/works", cursor="*", api_key=key).status_code == 200
    log = oa.requests.snapshot()
    assert [r.status for r in log] == [401, 200, 200, 200]
    assert [r.has_api_key for r in log] == [False, False, True, True]
    assert [r.api_key_via for r in log] == [None, None, "authorization", "query"]
    assert log[2].has_authorization and log[2].headers["Authorization"] == "Bearer <redacted>"
    assert log[3].query["api_key"] == "<redacted>"
    assert key not in repr(log)


def test_unknown_key_and_always_mode(oa: OpenAlexServer) -> None:
    oa.configure(api_keys={"good-key"})
    assert_error(
        get(oa, "/works", api_key="bad-key"), 401, "Invalid or missing API key", "API key not found"
    )
    assert get(oa, "/works", api_key="good-key").status_code == 200
    oa.configure(require_api_key="always")
    assert_error(
        get(oa, f"/works/{MYERS_2000}"), 401, "API key required", "This request requires an API key"
    )


def test_rate_limit_endpoint(oa: OpenAlexServer) -> None:
    assert_error(
        get(oa, "/rate-limit"), 401, "Authentication required", "You must provide a valid API key"
    )
    get(oa, "/works", api_key="abcdefgh123")
    body = get(oa, "/rate-limit", api_key="abcdefgh123").json()
    assert schema_errors(body, "RateLimitResponse") == []
    assert body["api_key"] == "abc...123"
    assert body["rate_limit"]["daily_budget_usd"] == 1.0
    assert body["rate_limit"]["daily_used_usd"] == 0.0001


# ------------------------------------------------------------------------ truncation


def test_author_truncation_mode(oa: OpenAlexServer) -> None:
    params: dict[str, Any] = {"filter": f"openalex:{BIG_AUTHOR_LIST}"}
    assert len(get(oa, "/works", **params).json()["results"][0]["authorships"]) == 249
    oa.configure(truncate_authors=True)
    listed = get(oa, "/works", **params).json()["results"][0]
    assert len(listed["authorships"]) == 100 and listed["is_authors_truncated"] is True
    single = get(oa, f"/works/{BIG_AUTHOR_LIST}").json()
    assert len(single["authorships"]) == 249 and "is_authors_truncated" not in single
    assert listed["authorships"] == single["authorships"][:100]
    small = get(oa, "/works", filter=f"openalex:{MYERS_2000}").json()["results"][0]
    assert small == get(oa, f"/works/{MYERS_2000}").json()  # short author lists untouched


# ------------------------------------------------------------------- rate-limit headers


RATE_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Credits-Used",
    "X-RateLimit-Reset",
    "X-RateLimit-Limit-USD",
    "X-RateLimit-Remaining-USD",
    "X-RateLimit-Cost-USD",
)


def test_rate_limit_headers_on_every_response(oa: OpenAlexServer) -> None:
    responses = {
        "list": get(oa, "/works"),
        "single": get(oa, f"/works/{MYERS_2000}"),
        "bad": get(oa, "/works", filter="DOESNTEXIST:1"),
        "missing": get(oa, "/works/W9999999999"),
        "list2": get(oa, "/works", api_key="some-key"),
    }
    for name, resp in responses.items():
        assert all(h in resp.headers for h in RATE_HEADERS), name
        assert 0 < int(resp.headers["X-RateLimit-Reset"]) <= 86400
    assert responses["list"].headers["X-RateLimit-Limit"] == "1000"  # no key: $0.10/day
    assert responses["list"].headers["X-RateLimit-Limit-USD"] == "0.1"
    assert [
        responses[n].headers["X-RateLimit-Credits-Used"]
        for n in ("list", "single", "bad", "missing")
    ] == ["1", "0", "0", "0"]
    assert [
        responses[n].headers["X-RateLimit-Remaining"] for n in ("list", "single", "bad", "missing")
    ] == ["999"] * 4
    assert responses["list2"].headers["X-RateLimit-Limit"] == "10000"  # a key: $1/day
    assert responses["list2"].headers["X-RateLimit-Remaining"] == "9999"
    assert responses["list"].json()["meta"]["cost_usd"] == 0.0001


def test_reset_header_counts_to_midnight_utc() -> None:
    noon = dt.datetime(2026, 3, 2, 12, 0, 0, tzinfo=dt.UTC)
    with OpenAlexServer(works=[], institutions=[], authors=[], clock=lambda: noon) as server:
        assert (
            requests.get(f"{server.url}/works", timeout=10).headers["X-RateLimit-Reset"] == "43200"
        )


def test_budget_enforcement_refuses_once_spent(oa: OpenAlexServer) -> None:
    oa.configure(enforce_budget=True, anon_daily_credits=3)
    assert [get(oa, "/works").status_code for _ in range(3)] == [200, 200, 200]
    spent = get(oa, "/works")
    body = assert_error_429(spent)
    assert body["message"].startswith("Insufficient budget.")
    assert spent.headers["X-RateLimit-Remaining"] == "0"
    assert get(oa, f"/works/{MYERS_2000}").status_code == 200  # singletons are free


def assert_error_429(resp: requests.Response) -> dict[str, Any]:
    assert resp.status_code == 429
    body: dict[str, Any] = resp.json()
    assert body["error"] == "Rate limit exceeded" and isinstance(body["message"], str)
    assert schema_errors(body, "Error") == []
    assert int(resp.headers["Retry-After"]) >= 0
    return body


# --------------------------------------------------------------------------- faults


def test_rate_limit_fault(oa: OpenAlexServer) -> None:
    oa.faults.rate_limit(times=2, retry_after=3)
    first, second, third = (get(oa, "/works") for _ in range(3))
    for resp in (first, second):
        body = assert_error_429(resp)
        assert resp.headers["Retry-After"] == "3"
        assert body["message"] == "Rate limit exceeded: 100 requests per second. Please slow down."
        assert int(resp.headers["X-RateLimit-Remaining"]) > 0
    assert third.status_code == 200
    assert [f.kind for f in oa.faults.fired] == [FaultKind.RATE_LIMIT] * 2
    assert oa.faults.pending() == []


def test_budget_exhausted_fault_is_distinguishable(oa: OpenAlexServer) -> None:
    oa.faults.budget_exhausted()
    oa.faults.rate_limit()
    daily, per_second = get(oa, "/works"), get(oa, "/works")
    daily_body, second_body = assert_error_429(daily), assert_error_429(per_second)
    assert daily_body["message"].startswith("Insufficient budget. This request costs $0.0001")
    assert "Resets at midnight UTC" in daily_body["message"]
    assert daily.headers["X-RateLimit-Remaining"] == "0"
    assert daily.headers["X-RateLimit-Credits-Required"] == "1"
    assert abs(int(daily.headers["Retry-After"]) - int(daily.headers["X-RateLimit-Reset"])) <= 1
    assert int(daily.headers["Retry-After"]) > 1
    assert daily_body["creditsRemaining"] == 0 and second_body["creditsRemaining"] > 0
    assert per_second.headers["Retry-After"] == "1"
    assert get(oa, "/works").status_code == 200


@pytest.mark.parametrize(
    ("kind", "status"), [("service_unavailable", 503), ("server_error", 500), ("forbidden", 403)]
)
def test_status_faults(oa: OpenAlexServer, kind: str, status: int) -> None:
    oa.add_fault(kind, times=2, retry_after=7)
    assert [get(oa, "/works").status_code for _ in range(3)] == [status, status, 200]
    assert [r.fault for r in oa.requests.snapshot()] == [kind, kind, None]


def test_forbidden_and_5xx_bodies(oa: OpenAlexServer) -> None:
    oa.faults.forbidden()
    assert_error(get(oa, "/works"), 403, "Forbidden", "You don't have access")
    oa.faults.service_unavailable(retry_after=5)
    unavailable = get(oa, "/works")
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"] == "5"
    assert unavailable.headers["Content-Type"].startswith("text/html")
    oa.faults.server_error()
    assert "Retry-After" not in get(oa, "/works").headers


def test_slow_fault_outlasts_a_client_timeout(oa: OpenAlexServer) -> None:
    oa.faults.slow(delay=0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(oa, "/works", timeout=0.1)
    assert get(oa, "/works", timeout=10).status_code == 200
    for _ in range(100):  # the server still answers the abandoned request, late
        if len(oa.requests) == 2:
            break
        threading.Event().wait(0.05)
    assert [(r.fault, r.status) for r in oa.requests] == [(None, 200), ("slow", 200)]


def test_slow_fault_answers_normally_to_a_patient_client(oa: OpenAlexServer) -> None:
    oa.faults.slow(delay=0.3)
    assert get(oa, "/works", timeout=10).json()["meta"]["count"] == 1210


def test_drop_fault_closes_without_response(oa: OpenAlexServer) -> None:
    oa.faults.drop(times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        get(oa, "/works")
    assert get(oa, "/works").status_code == 200
    assert [r.status for r in oa.requests.snapshot()] == [None, 200]


def test_malformed_json_fault(oa: OpenAlexServer) -> None:
    oa.faults.malformed_json()
    resp = get(oa, "/works")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/json"
    with pytest.raises(requests.exceptions.JSONDecodeError):
        resp.json()
    assert resp.text.startswith('{"meta":')
    assert get(oa, "/works").json()["meta"]["count"] == 1210


def test_fault_targeting_skip_and_bounds(oa: OpenAlexServer) -> None:
    oa.faults.add(Fault(FaultKind.SERVER_ERROR, times=1, skip=2, path="/works", endpoint="list"))
    statuses = [get(oa, f"/works/{MYERS_2000}").status_code, get(oa, "/authors").status_code]
    statuses += [get(oa, "/works").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 200, 500, 200]
    with pytest.raises(ValueError):
        Fault(FaultKind.DROP, times=0)
    with pytest.raises(ValueError):
        Fault(FaultKind.SLOW, delay=600)
    with pytest.raises(ValueError):
        Fault("explode")  # type: ignore[arg-type]


def test_reset_clears_faults_log_and_settings(oa: OpenAlexServer) -> None:
    oa.faults.drop(times=5)
    oa.configure(require_api_key="always", truncate_authors=True)
    oa.reset()
    assert oa.faults.pending() == [] and len(oa.requests) == 0
    assert oa.settings.require_api_key == "never" and not oa.settings.truncate_authors
    assert get(oa, "/works").status_code == 200


# ------------------------------------------------------------------------- pyalex


@pytest.fixture
def pyalex_oa(oa: OpenAlexServer, monkeypatch: pytest.MonkeyPatch) -> OpenAlexServer:
    monkeypatch.setattr(pyalex.api, "_get_requests_session", lambda: pyalex_session_for(oa.url))
    monkeypatch.setitem(pyalex.config, "api_key", None)
    monkeypatch.setitem(pyalex.config, "email", None)
    return oa


def test_pyalex_filter_get_and_paginate(
    pyalex_oa: OpenAlexServer, works: list[dict[str, Any]]
) -> None:
    expected = ids_where(
        works,
        lambda w: any(f"https://openalex.org/{CAS}" in (i.get("lineage") or []) for i in insts(w)),
    )
    query = pyalex.Works().filter(authorships={"institutions": {"lineage": CAS}})
    page = query.get(per_page=200)
    assert page.meta["count"] == len(expected) and {w["id"] for w in page} == expected
    pages = list(
        pyalex.Works().filter(authorships={"institutions": {"lineage": CAS}}).paginate(per_page=3)
    )
    flat = [w["id"] for p in pages for w in p]
    assert len(flat) == len(set(flat)) and set(flat) == expected
    assert all(r.path == "/works" for r in pyalex_oa.requests)
    assert pyalex_oa.requests[0].headers["User-Agent"].startswith("pyalex/")


def test_pyalex_single_entities_and_ids(
    pyalex_oa: OpenAlexServer, works: list[dict[str, Any]]
) -> None:
    assert pyalex.Works()[MYERS_2000]["publication_year"] == 2000
    assert pyalex.Works()["https://doi.org/10.1038/35002501"]["id"].endswith(MYERS_2000)
    assert pyalex.Institutions()[f"ror:{CAS_ROR}"]["id"].endswith(CAS)
    assert pyalex.Authors()["orcid:0000-0002-2335-8801"]["id"].endswith("A5000042837")
    hundred = [short(w["id"]) for w in works[:100]]
    got = pyalex.Works()[hundred]
    assert {short(w["id"]) for w in got} == set(hundred)
    picked = pyalex.Works().filter_or(openalex_id=hundred[:3]).select(["id", "doi"]).get()
    assert all(set(w) == {"id", "doi"} for w in picked) and len(picked) == 3


def test_pyalex_query_error_and_not_filter(
    pyalex_oa: OpenAlexServer, works: list[dict[str, Any]]
) -> None:
    with pytest.raises(pyalex.api.QueryError, match="DOESNTEXIST is not a valid field"):
        pyalex.Works().filter(DOESNTEXIST=1).get()
    not_articles = pyalex.Works().filter_not(type="article").get(per_page=1)
    assert not_articles.meta["count"] == len(ids_where(works, lambda w: w.get("type") != "article"))
    hits = pyalex.Works().search_filter(title="biodiversity hotspots").get()
    assert MYERS_2000 in {short(w["id"]) for w in hits}


def test_pyalex_against_auth_mode(
    pyalex_oa: OpenAlexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyalex_oa.configure(require_api_key="cursor")
    with pytest.raises(pyalex.api.QueryError, match="API key"):
        next(iter(pyalex.Works().filter(publication_year=2020).paginate(per_page=200)))
    monkeypatch.setitem(pyalex.config, "api_key", "pyalex-secret-key")
    pages = list(pyalex.Works().filter(publication_year=2020).paginate(per_page=200))
    assert sum(len(p) for p in pages) == pages[0].meta["count"] > 0
    log = pyalex_oa.requests.snapshot()
    assert log[0].status == 401 and log[-1].api_key_via == "authorization"
    assert "pyalex-secret-key" not in repr(log)


# ---------------------------------------------------------------- server lifecycle


def test_explicit_records_deduplicated_and_served(works: list[dict[str, Any]]) -> None:
    full = works[0]
    partial = {k: full[k] for k in ("id", "display_name", "authorships")}
    subset = [partial, *works[:10], partial]
    assert dedupe(subset)[0] is full
    with OpenAlexServer(works=subset, institutions=[], authors=[]) as server:
        body = requests.get(f"{server.url}/works", params={"per_page": 200}, timeout=10).json()
        assert body["meta"]["count"] == 10
        assert {r["id"] for r in body["results"]} == {w["id"] for w in works[:10]}
        assert next(r for r in body["results"] if r["id"] == full["id"]) == full
        assert requests.get(f"{server.url}/institutions", timeout=10).json()["meta"]["count"] == 0


def test_concurrent_requests_are_all_logged(oa: OpenAlexServer) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        status = get(oa, "/works", filter=f"publication_year:{1990 + n}").status_code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert results == [200] * 24
    assert len(oa.requests) == 24
    assert sorted(r.query["filter"] for r in oa.requests) == sorted(
        f"publication_year:{1990 + n}" for n in range(24)
    )


def test_server_binds_loopback_and_stops_cleanly() -> None:
    server = OpenAlexServer(works=[], institutions=[], authors=[]).start()
    host, port = server.url.removeprefix("http://").split(":")
    assert host == "127.0.0.1"
    session = requests.Session()
    assert session.get(f"{server.url}/works", timeout=5).status_code == 200  # keep-alive open
    server.stop()
    assert not server.running
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(port)), timeout=1):
        pass
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(f"http://127.0.0.1:{port}/works", timeout=5)


def test_stop_interrupts_a_slow_fault() -> None:
    server = OpenAlexServer(works=[], institutions=[], authors=[]).start()
    server.faults.slow(delay=30)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            requests.get(f"{server.url}/works", timeout=60)
        except requests.RequestException as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    for _ in range(100):
        if server.faults.fired:
            break
        threading.Event().wait(0.02)
    server.stop()
    caller.join(timeout=10)
    assert not caller.is_alive()


def test_readme_documents_every_fault_kind() -> None:
    text = (Path(__file__).parent / "oaserver" / "README.md").read_text(encoding="utf-8")
    assert "## Faults" in text and "## Not implemented" in text
    assert [kind.value for kind in FaultKind if f"`{kind.value}`" not in text] == []
