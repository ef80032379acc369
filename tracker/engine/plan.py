"""The screening plan's SQL: one text, read by DuckDB (and, where the dialects allow, by
Spark SQL: :mod:`tracker.engine.spark` runs :func:`counts_sql` and :func:`window_sql` as they
are, after a prelude that defines the macros as Spark SQL functions).

The plan reads each works record once as text, turns it into what screening needs to count
and to choose works (no Python object per work), and leaves the rest to tracker's own
Python code, run only on the works that can hold a tie:

``recs``
    One row per record: its order (``rn``: file order, then line order), the work ID as
    :func:`tracker.records.short_id` reads it, whether the record can be read at all
    (``status``), its dates as :func:`tracker.records.parse_work` reads them, its data-gap
    counts (the same tests as :mod:`tracker.screening`), and the identifiers and strings
    a tie can be found by: institution IDs with their lineage, RORs, raw affiliation
    strings and institutions' display names.
``firsts``
    The first record of each work ID (a later one is counted as a duplicate).
``readw``
    The first records inside the date window: the works read.

The keys are resolved in Python once per distinct value (registry lookups for IDs and
RORs, the name matcher's scan for strings) and joined back to choose the works that can
hold a tie (``cand``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

__all__ = ["AUTHS", "AUTHS_AT", "COLUMNS", "ID_RE", "KEYS", "ROR_RE", "SCHEMA", "counts_sql",
           "macros_sql", "recs_parquet_sql", "recs_sql", "recs_typed_sql", "texts_sql",
           "window_sql"]

#: :func:`tracker.records.short_id` as a regular expression (RE2).
ID_RE = r"^(?:https?://(?:api\.)?openalex\.org/)?(?:\w+/)?([WAISCFPTwaiscfpt]\d+)$"
#: :func:`tracker.records.short_ror` as a regular expression (RE2).
ROR_RE = r"(?i)^(?:https?://)?(?:ror\.org/)?(0[a-z0-9]{6}\d{2})$"

#: The fields the plan reads; anything else in a record is left alone.
SCHEMA = (
    '{"id": "VARCHAR", "publication_date": "VARCHAR", "publication_year": "JSON", '
    '"is_authors_truncated": "JSON", "authorships": [{"institutions": [{"id": "VARCHAR", '
    '"ror": "VARCHAR", "display_name": "VARCHAR", "lineage": ["VARCHAR"]}], '
    '"raw_affiliation_strings": ["VARCHAR"], "raw_affiliation_string": "VARCHAR", '
    '"affiliations": [{"raw_affiliation_string": "VARCHAR"}]}]}'
)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _year(value: str) -> str:
    """The publication year :func:`tracker.records.parse_work` reads from ``value`` (JSON):
    a whole number, or a string of digits."""
    return f"""CASE json_type({value})
              WHEN 'UBIGINT' THEN TRY_CAST({value}::VARCHAR AS BIGINT)
              WHEN 'BIGINT' THEN TRY_CAST({value}::VARCHAR AS BIGINT)
              WHEN 'VARCHAR' THEN CASE WHEN regexp_matches(strip({value} ->> '$'), '^[0-9]+$')
                                       THEN TRY_CAST(strip({value} ->> '$') AS BIGINT)
                                  END
         END"""


def _truncated(value: str) -> str:
    """``is_authors_truncated`` (JSON) as tracker reads it: true only when it is JSON true."""
    return (f"coalesce(json_type({value}) = 'BOOLEAN' AND {value}::VARCHAR = 'true', false)")


def _odd_authorship(value: str) -> str:
    """True where the authorships ``value`` (typed) hold a NULL or an authorship with none
    of the plan's fields: what a JSON value that is not an object (``null``, a number, a
    string, a list) reads as, and also an empty object.  Only these records are looked at
    again (a rare case): tracker skips a record with an authorship that is not an object
    (:class:`tracker.records.RecordError`), and an empty object is an authorship.

    Each field tested in a lambda: ``list_position`` of the empty struct took seven times
    as long (100,000 generated works: 0.5 s against 0.08 s)."""
    return (f"len(list_filter({value}, lambda a: a.institutions IS NULL"
            f" AND a.raw_affiliation_strings IS NULL AND a.raw_affiliation_string IS NULL"
            f" AND a.affiliations IS NULL)) > 0")


def _date(value: str) -> str:
    """The publication date tracker reads from ``value`` (text): its first ten characters
    when they are a date written YYYY-MM-DD, else NULL."""
    return (f"CASE WHEN regexp_matches(left({value}, 10), '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$') "
            f"THEN TRY_CAST(left({value}, 10) AS DATE) END")


def macros_sql() -> str:
    """Macros the plan uses: an institution OpenAlex attached that tracker keeps (any
    identifier or name: :class:`tracker.records.InstitutionRef` keeps one with an ID, a ROR
    or a display name), and an authorship's raw affiliation strings (both forms, and those
    of ``affiliations``).

    ``no_inst`` and ``has_raw`` answer most authorships from their first institution or
    string before the lambda (DuckDB runs a ``CASE`` branch only on the rows that reach
    it).  Two forms cost DuckDB 2.0 far more than they look: ``coalesce`` of a list (it
    copies the list: ``len(coalesce(l, []))`` took 4.4 s over a million works'
    authorships, ``coalesce(len(l), 0)`` 0.2 s) and ``trim`` with the characters to trim
    (4.6 s against 0.4 s for looking at the first and last character).  So ``strip``
    trims only a string that begins or ends with a character at or below U+0020, and the
    lists are tested by their length: the run counts of a million works took 1.1 s
    rather than 8.6 s, with the same values for each of their nine million authorships."""
    return """
CREATE OR REPLACE MACRO strip(x) AS CASE
  WHEN ord(left(x, 1)) > 32 AND ord(right(x, 1)) > 32 THEN x
  ELSE trim(x, chr(32) || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) END;
CREATE OR REPLACE MACRO raws(a) AS
  list_concat(CASE WHEN a.raw_affiliation_strings IS NOT NULL THEN a.raw_affiliation_strings
                   ELSE string_split(a.raw_affiliation_string, ';') END,
              list_transform(a.affiliations, lambda x: x.raw_affiliation_string));
CREATE OR REPLACE MACRO no_inst(a) AS CASE
  WHEN a.institutions[1].id IS NOT NULL THEN false
  WHEN coalesce(len(a.institutions), 0) = 0 THEN true
  ELSE len(list_filter(a.institutions, lambda i: i.id IS NOT NULL
      OR i.ror IS NOT NULL OR coalesce(strip(i.display_name), '') <> '')) = 0 END;
CREATE OR REPLACE MACRO has_raw(a) AS CASE
  WHEN coalesce(strip(a.raw_affiliation_strings[1]), '') <> '' THEN true
  WHEN coalesce(len(a.raw_affiliation_strings), 0) = 0
       AND (a.raw_affiliation_strings IS NOT NULL OR a.raw_affiliation_string IS NULL)
       AND coalesce(len(a.affiliations), 0) = 0 THEN false
  ELSE len(list_filter(raws(a), lambda r: coalesce(strip(r), '') <> '')) > 0 END;
"""


def recs_sql(source: str, table: str = "recs") -> str:
    """``recs`` (or ``table``) from ``source``, a query giving ``rn``, ``fidx`` and
    ``line`` per record: one row per record with its status, dates, flags and its
    authorships as the plan reads them (``auths``), each read from the record's text."""
    return f"""
CREATE OR REPLACE TABLE {table} AS
WITH parsed AS (
  SELECT rn, fidx, line, try(from_json(line, {_lit(SCHEMA)})) AS j
  FROM ({source}) src
  WHERE starts_with(line, '{{') OR strip(line) <> ''  -- strip reads the whole line: rarely
), w AS (
  SELECT rn, fidx, line, j,
         upper(regexp_extract(strip(coalesce(j.id, '')), {_lit(ID_RE)}, 1)) AS wid,
         {_date('j.publication_date')} AS pdate,
         {_year('j.publication_year')} AS year0
  FROM parsed
), k AS (
  -- the record's keys, read (once more) only where the typed values leave them unknown
  SELECT *, CASE WHEN j IS NOT NULL AND (j.authorships IS NULL OR j.publication_date IS NULL
                                         OR wid = '' OR NOT starts_with(wid, 'W'))
                 THEN try(json_keys(line)) END AS keys
  FROM w
)
SELECT rn, fidx, wid,
  CASE WHEN j IS NULL THEN 'json'
       WHEN wid = '' OR NOT starts_with(wid, 'W') THEN
            CASE WHEN list_contains(keys, 'results') AND NOT list_contains(keys, 'id')
                      AND try(json_type(line, '$.results')) = 'ARRAY'
                 THEN 'envelope' ELSE 'id' END
       WHEN j.authorships IS NULL AND list_contains(keys, 'authorships')
            AND coalesce(try(json_type(line, '$.authorships')), 'NULL') <> 'NULL'
            THEN 'authorships'
       WHEN {_odd_authorship('j.authorships')}
            AND len(list_filter(try(json_type(line, '$.authorships[*]')),
                                lambda t: t <> 'OBJECT')) > 0
            THEN 'authorship'
       ELSE 'ok' END AS status,
  pdate,
  coalesce(nullif(year0, 0), year(pdate)) AS year,
  {_truncated('j.is_authors_truncated')} AS trunc,
  NOT ((j.authorships IS NOT NULL OR coalesce(list_contains(keys, 'authorships'), false))
       AND (j.publication_date IS NOT NULL
            OR coalesce(list_contains(keys, 'publication_date'), false))) AS partial,
  coalesce(len(j.authorships), 0) AS n_auth,
  j.authorships AS auths
FROM k
"""


#: The authorships as the plan reads them (the type :data:`SCHEMA` gives them).
AUTHORSHIPS_TYPE = (
    "STRUCT(institutions STRUCT(id VARCHAR, ror VARCHAR, display_name VARCHAR, "
    "lineage VARCHAR[])[], raw_affiliation_strings VARCHAR[], raw_affiliation_string VARCHAR, "
    "affiliations STRUCT(raw_affiliation_string VARCHAR)[])[]"
)
#: The columns the typed reader reads (``read_json``); JSON where a value's type matters.
COLUMNS = (
    "{id: 'VARCHAR', publication_date: 'JSON', publication_year: 'JSON', "
    f"is_authors_truncated: 'JSON', authorships: '{AUTHORSHIPS_TYPE}'}}"
)


def recs_typed_sql(files: Sequence[tuple[int, str]], stride: int, max_object: int, *,
                   insert: bool = False) -> str:
    """``recs`` from JSON Lines files ``(fidx, path)`` (the input's ``fidx``-th file; its
    ``rn`` start after ``fidx * stride``) by DuckDB's typed JSON reader, several times
    faster than reading each line's text.  ``insert``: add their rows to ``recs`` rather
    than create it.

    Several files are read by one statement: a statement per small file cost about 45 ms
    of its own (500 files of 200 generated works: 22.7 s, against 3.5 s for one
    statement), which a snapshot's many small parts add up.  Each row's file is then
    known from the reader's ``filename``, and its line from its place after the file's
    first row (the rows of one file are stored together, in order, as the next paragraph
    says of one file).

    It reads a record as tracker does wherever the typed values say enough.  Where they do
    not, the row is marked ``doubt`` and read again from its text (:func:`recs_sql`): no
    usable work ID (a broken line, a list response, a record without ID) or no authorships
    (absent, null, or not a list).  A record without a publication date is marked
    ``date``: whether the field is absent (a partial record) or null is read from its text
    later, where the candidates' lines are read again (``tracker.engine.duck``:
    ``_direct_lines``, or ``_date_fields`` for files with records set aside; what they
    leave, by :func:`texts_sql`).  ``rn`` counts the non-blank lines, as the text reader
    does.

    The rows are read into a table of their own in file order, then numbered by their
    place in it (``rowid``).  DuckDB keeps a table's insertion order
    (``preserve_insertion_order``, on in the engine), and "on materialized tables, the
    rowid pseudo-column can be used to the same effect" as ``row_number() OVER ()``
    [1]_; numbering the rows while reading them (``row_number() OVER ()``) holds the read
    to one thread (a million generated works: 53 s on one core, against 34 s on two).
    The numbers are written into the table's own ``rn`` column (an UPDATE of that column
    alone), and the first file's table becomes ``recs`` (renamed): copying the rows into
    ``recs`` wrote every authorship to the database file twice (100,000 generated works:
    the copy took 4.5 s of a 9.6 s read; the UPDATE 0.02 s).  Another file's rows are
    copied into ``recs``: files may be read at once, so their row IDs in ``recs`` could
    interleave.

    References
    ----------
    .. [1] DuckDB 2.0, "Order Preservation",
       https://duckdb.org/docs/2.0/sql/dialect/order_preservation.html
    """
    if not files:
        raise ValueError("no files to read")
    stage = f"typed_{int(files[0][0])}"
    tail = (f"INSERT INTO recs SELECT * FROM {stage};\nDROP TABLE {stage};" if insert
            else f"DROP TABLE IF EXISTS recs;\nALTER TABLE {stage} RENAME TO recs;")
    if len(files) == 1:
        (fidx, path), = files
        source, file_column = _lit(path), ""
        fidx_sql, number = f"{int(fidx)}::BIGINT", f"{int(fidx) * int(stride)} + rowid + 1"
        numbered = ""
    else:
        source = "[" + ", ".join(_lit(p) for _, p in files) + "]"
        file_column, fidx_sql, number = ", filename", "NULL::BIGINT", "f.base + rowid + 1"
        names = ", ".join(f"({_lit(p)}, {int(i)}::BIGINT)" for i, p in files)
        numbered = (f", fidx = f.fidx FROM (SELECT t.filename, n.fidx, "
                    f"n.fidx * {int(stride)} - min(t.rowid) AS base FROM {stage} t "
                    f"JOIN (VALUES {names}) n(filename, fidx) USING (filename) "
                    f"GROUP BY t.filename, n.fidx) f WHERE {stage}.filename = f.filename;\n"
                    f"ALTER TABLE {stage} DROP COLUMN filename")
    return f"""
CREATE OR REPLACE TABLE {stage} AS
WITH w AS (
  SELECT upper(regexp_extract(strip(coalesce(id, '')), {_lit(ID_RE)}, 1)) AS wid,
         CASE WHEN json_type(publication_date) = 'VARCHAR'
                   AND regexp_matches(left(publication_date ->> '$', 10),
                                      '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$')
              THEN TRY_CAST(left(publication_date ->> '$', 10) AS DATE) END AS pdate,
         {_year('publication_year')} AS year0,
         {_truncated('is_authors_truncated')} AS trunc,
         authorships, publication_date IS NULL AS no_date{file_column}
  FROM read_json({source}, format='newline_delimited', maximum_object_size={max_object},
                 ignore_errors=true, columns={COLUMNS}{', filename=true' if file_column else ''})
)
SELECT NULL::BIGINT AS rn, {fidx_sql} AS fidx, wid,
  CASE WHEN wid = '' OR NOT starts_with(wid, 'W') OR authorships IS NULL
            OR {_odd_authorship('authorships')} THEN 'doubt'
       WHEN no_date THEN 'date' ELSE 'ok' END AS status,
  pdate,
  coalesce(nullif(year0, 0), year(pdate)) AS year,
  trunc,
  false AS partial,
  coalesce(len(authorships), 0) AS n_auth,
  authorships AS auths{file_column}
FROM w;
UPDATE {stage} SET rn = {number}{numbered};
{tail}
"""


def recs_parquet_sql(files: Sequence[tuple[int, str]], base: int, stride: int,
                     have: Collection[str], *, table: str = "recs") -> str:
    """``table`` from Parquet files ``(fidx, path)`` (the input's ``fidx``-th file; ``rn``
    is ``base + fidx * stride`` plus the row's number in the file), read by their columns:
    the rows :func:`recs_sql` gives for the same rows turned into JSON text, several times
    faster (a million works: 7 s against about 35 s), with ``have`` the plan's columns the
    files hold.  Several files must have the same columns, in the same order (DuckDB
    reads them by position); they are read by one statement, each row's file known from
    the reader's ``filename`` (a statement per file cost about 40 ms of its own: 500
    parts of 200 generated works, of four kinds of columns, took 27.8 s, against 6.8 s).

    The columns are cast to the plan's types by name (a struct's fields not in the plan are
    dropped, a field it lacks is NULL); a column that cannot be cast (a list where the plan
    reads text) fails the query, and the file is read from its text instead.  A column the
    file lacks reads as the text does when the field is absent: a record without
    ``authorships`` or ``publication_date`` is partial.  Not for a file with a ``results``
    column (list responses, told apart by their text: :func:`recs_sql`).
    """
    def col(name: str, cast: str = "") -> str:
        return f'{name}{cast}' if name in have else "NULL"

    if not files:
        raise ValueError("no files to read")
    partial = "false" if {"authorships", "publication_date"} <= set(have) else "true"
    if len(files) == 1:
        (fidx, path), = files
        source, fidx_sql = f"read_parquet({_lit(path)}, file_row_number=true)", str(int(fidx))
    else:
        names = ", ".join(f"({_lit(p)}, {int(i)}::BIGINT)" for i, p in files)
        source = (f"read_parquet([{', '.join(_lit(p) for _, p in files)}], "
                  f"file_row_number=true, filename=true) "
                  f"JOIN (VALUES {names}) n(filename, fidx) USING (filename)")
        fidx_sql = "fidx"
    return f"""
CREATE OR REPLACE TABLE {table} AS
WITH t AS (
  SELECT file_row_number, {fidx_sql}::BIGINT AS fidx, {col("id", "::VARCHAR")} AS id,
         {col("publication_date", "::VARCHAR")} AS pd,
         to_json({col("publication_year")}) AS py,
         to_json({col("is_authors_truncated")}) AS tr,
         CAST({col("authorships")} AS {AUTHORSHIPS_TYPE}) AS auths
  FROM {source}
), w AS (
  SELECT {int(base)} + fidx * {int(stride)} + file_row_number AS rn, fidx,
         upper(regexp_extract(strip(coalesce(id, '')), {_lit(ID_RE)}, 1)) AS wid,
         {_date("pd")} AS pdate, {_year("py")} AS year0, {_truncated("tr")} AS trunc, auths
  FROM t
)
SELECT rn, fidx, wid,
  CASE WHEN wid = '' OR NOT starts_with(wid, 'W') THEN 'id'
       WHEN list_position(auths, NULL) IS NOT NULL THEN 'authorship' ELSE 'ok' END AS status,
  pdate,
  coalesce(nullif(year0, 0), year(pdate)) AS year,
  trunc,
  {partial} AS partial,
  coalesce(len(auths), 0) AS n_auth,
  auths
FROM w
"""


def texts_sql(source: str, table: str = "texts") -> str:
    """``table``: for the rows of ``recs`` the typed reader left in doubt, the line (for
    ``doubt`` rows, read again by :func:`recs_sql`) or whether the record lacks the
    ``publication_date`` field (``date`` rows: the key's name in the text at all, and only
    then its parse), and whether the line names the work the typed reader read there."""
    return f"""
CREATE OR REPLACE TABLE {table} AS
SELECT s.rn, s.fidx, CASE WHEN r.status = 'doubt' THEN s.line END AS line,
  CASE WHEN r.status = 'date' THEN
    CASE WHEN NOT contains(s.line, '"publication_date"') THEN true
         ELSE NOT coalesce(list_contains(try(json_keys(s.line)), 'publication_date'), false)
    END END AS partial,
  r.wid = '' OR contains(s.line, r.wid) AS same
FROM ({source}) s JOIN (SELECT rn, status, wid FROM recs WHERE status IN ('doubt', 'date')) r
  USING (rn)
"""


def window_sql(since: str | None, until: str | None) -> str:
    """The date-window test of :func:`tracker.screening.screen` on ``recs`` columns:
    true, false, or NULL when the work has no date or year (kept, and said so)."""
    if since is None and until is None:
        return "true"
    s = f"DATE {_lit(since)}" if since else "NULL::DATE"
    u = f"DATE {_lit(until)}" if until else "NULL::DATE"
    return f"""CASE
  WHEN pdate IS NOT NULL THEN ({s} IS NULL OR pdate >= {s}) AND ({u} IS NULL OR pdate <= {u})
  WHEN year IS NOT NULL THEN NOT (({s} IS NOT NULL AND year < year({s}))
                                  OR ({u} IS NOT NULL AND year > year({u})))
END"""


#: The authorships of the works read, one row each (``rn``, ``a``).
AUTHS = "(SELECT rn, unnest(auths) AS a FROM readw)"

#: The authorships with their place in the record (``pos``, from 0), one row each (``rn``,
#: ``pos``, ``a``): the typed ``auths`` hold every element of the record's list, in order.
AUTHS_AT = "(SELECT rn, generate_subscripts(auths, 1) - 1 AS pos, unnest(auths) AS a FROM readw)"

#: The institutions OpenAlex attached to them, one row each (``rn``, ``pos``, ``i``).
INSTS = f"(SELECT rn, pos, unnest(a.institutions) AS i FROM {AUTHS_AT})"

#: The keys a tie can be found by, one query per source of keys, each giving rows of
#: (work, authorship's place, kind, key): ``i`` an institution's OpenAlex ID or a lineage
#: ancestor's, ``r`` its ROR, ``s`` a string the name matcher reads (a raw affiliation
#: string or an institution's display name).  (Run apart: DuckDB 2.0 ran out of memory on
#: their UNION ALL.)
KEYS = (
    ("i", f"SELECT rn, pos, 'i' AS kind, unnest(list_concat([i.id], i.lineage)) AS k "
          f"FROM {INSTS}"),
    ("r", f"SELECT rn, pos, 'r' AS kind, i.ror AS k FROM {INSTS}"),
    ("s", f"SELECT rn, pos, 's' AS kind, i.display_name AS k FROM {INSTS}"),
    ("s", f"SELECT rn, pos, 's' AS kind, unnest(raws(a)) AS k FROM {AUTHS_AT}"),
)


def counts_sql(auths: str = AUTHS) -> str:
    """One row of run counts over ``recs``, ``firsts`` and ``readw``; ``auths`` is the
    query of the works' authorships (``rn``, ``a``): :data:`AUTHS` in DuckDB's dialect (Spark
    has no ``unnest`` and passes its own, see :mod:`tracker.engine.spark`)."""
    return f"""
WITH ag AS (
  SELECT coalesce(sum(CASE WHEN no_inst(a) THEN 1 ELSE 0 END), 0) AS no_inst,
         coalesce(sum(CASE WHEN no_inst(a) THEN CASE WHEN has_raw(a) THEN 1 ELSE 0 END
                           ELSE 0 END), 0) AS with_raw
  FROM {auths}
)
SELECT
  (SELECT count(*) FROM recs WHERE status <> 'ok') AS works_skipped,
  (SELECT count(*) FROM recs WHERE status = 'ok') - (SELECT count(*) FROM firsts)
    AS works_duplicate,
  (SELECT count(*) FROM firsts) - (SELECT count(*) FROM readw) AS works_out_of_window,
  count(*) AS works_read,
  coalesce(sum(CASE WHEN n_auth = 0 THEN 1 ELSE 0 END), 0) AS works_without_authorships,
  coalesce(sum(CASE WHEN pdate IS NULL AND year IS NULL THEN 1 ELSE 0 END), 0)
    AS works_without_date,
  coalesce(sum(CASE WHEN pdate IS NULL AND year IS NOT NULL THEN 1 ELSE 0 END), 0)
    AS works_year_only,
  coalesce(sum(CASE WHEN trunc THEN 1 ELSE 0 END), 0) AS works_authors_truncated,
  coalesce(sum(CASE WHEN partial THEN 1 ELSE 0 END), 0) AS works_partial_record,
  coalesce(sum(n_auth), 0) AS authorships,
  any_value((SELECT no_inst FROM ag)) AS authorships_without_institution,
  any_value((SELECT with_raw FROM ag)) AS authorships_without_institution_with_raw,
  any_value((SELECT no_inst - with_raw FROM ag)) AS authorships_without_anything
FROM readw
"""
