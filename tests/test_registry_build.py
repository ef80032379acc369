"""The bundled registry (version 0) is built in the package from shipped files only.

The rebuild equals the committed ``tracker/data/registry.json`` byte for byte; the build opens
no file outside the package; each shipped input is the recorded copy its provenance names;
the OpenAlex extract leaves out the independent evaluation set; version 0 lists every shipped
file with its hash and entries per list.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import tracker
import tracker.listsources.build as build
import tracker.listsources.build_core as core
import tracker.listsources.build_inputs as inputs
from tests._paths import OPENALEX, REPO, SHARED, shared_data_present
from tracker.cli import main
from tracker.registry_versions import VersionStore, build_version_zero
from tracker.watchlists import load_registry

BUNDLED = REPO / "tracker" / "data" / "registry.json"
PACKAGE = Path(tracker.__file__).resolve().parent
needs_shared = pytest.mark.skipif(not shared_data_present(),
                                  reason="needs the project's shared reference data")

_OPENED: list[str] = []
_RECORDING = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _RECORDING and event == "open" and isinstance(args[0], str | Path):
        _OPENED.append(str(Path(args[0]).resolve()))


@pytest.fixture(scope="module")
def built() -> build.BuildResult:
    """One in-package build, every file it opens recorded (an audit hook, which cannot be
    removed: it records only while the build runs)."""
    global _RECORDING
    sys.addaudithook(_audit)
    _OPENED.clear()
    _RECORDING = True
    try:
        return build_version_zero()
    finally:
        _RECORDING = False


def test_the_rebuild_from_shipped_files_equals_the_bundled_registry(built):
    assert built.text().encode("utf-8") == BUNDLED.read_bytes(), \
        "bundled registry is stale: run tracker lists build --out tracker/data/registry.json"
    assert built.document["version"].startswith("reg-")


def test_the_build_opens_only_files_of_the_package(built):
    opened = sorted(set(_OPENED))
    data = str((PACKAGE / "data").resolve())
    read = [p for p in opened if p.startswith(data)]
    assert any(p.endswith("institutions.csv.gz") for p in read)
    assert any(p.endswith("institution_objects.jsonl.gz") for p in read)
    assert [p for p in opened if p.startswith(str(SHARED.resolve()))] == []
    # nothing but the package's own data (and Python's modules) is opened
    assert [p for p in opened if not p.startswith(str(PACKAGE)) and
            not p.endswith((".py", ".pyc", ".so")) and "/python3" not in p] == []


def test_the_cli_build_writes_the_same_bytes_in_another_process(tmp_path):
    out, links = tmp_path / "registry.json", tmp_path / "id_links.csv"
    subprocess.run([sys.executable, "-c", "from tracker.cli import main; raise SystemExit(main())",
                    "lists", "build", "--out", str(out),
                    "--links-out", str(links), "--quiet"], check=True, timeout=300,
                   cwd=tmp_path)
    assert out.read_bytes() == BUNDLED.read_bytes()
    assert links.read_text("utf-8").splitlines()[0].startswith("link_id,institution_key")


def _reads_shared(tree: ast.AST) -> list[int]:
    """Lines that build a path into a ``shared`` folder beside the repository."""
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and any(
                isinstance(x, ast.Constant) and x.value == "shared"
                for x in (node.left, node.right)):
            bad.append(node.lineno)
        if isinstance(node, ast.Call) and any(
                isinstance(a, ast.Constant) and isinstance(a.value, str)
                and ("../shared" in a.value or a.value.startswith("shared/data"))
                for a in node.args):
            bad.append(node.lineno)
    return sorted(bad)


def test_no_module_under_tracker_reads_the_shared_reference_data():
    # the check sees the old build script's way of reaching the data
    assert _reads_shared(ast.parse(
        'SRC = REPO.parent / "shared" / "data" / "restricted"\nopen("../shared/x")')) == [1, 2]
    found = {str(p.relative_to(PACKAGE)): lines for p in sorted(PACKAGE.rglob("*.py"))
             if (lines := _reads_shared(ast.parse(p.read_text("utf-8"))))}
    assert found == {}


def _content(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


@needs_shared
def test_each_shipped_input_is_the_recorded_copy_it_names(built):
    recorded = built.document["built_from"]["inputs"]
    assert set(recorded) == set(inputs.INPUT_FILES)
    for rel, info in recorded.items():
        shipped = _content(PACKAGE / "data" / "sources" / rel)
        assert hashlib.sha256(shipped).hexdigest() == info["sha256"], rel
        if rel in inputs.RECORDED_AS:
            copy = SHARED / "data" / inputs.RECORDED_AS[rel]
            assert copy.read_bytes() == shipped, rel


def test_the_openalex_extract_leaves_out_the_evaluation_set(built):
    rows = [json.loads(line) for line in
            _content(PACKAGE / "data" / "sources" / inputs.F_OPENALEX).splitlines()]
    files = {f for r in rows for f in r["recorded_in"]}
    assert files and not files & set(inputs.EVALUATION_FILES)
    assert set(built.document["built_from"]["openalex_recorded_in"]) <= files
    assert {"id", "ror", "display_name", "country_code", "lineage"} <= set(rows[0])


@needs_shared
def test_the_extraction_step_reproduces_the_shipped_extract(tmp_path):
    out = tmp_path / "objects.jsonl.gz"
    subprocess.run([sys.executable, str(REPO / "scripts" / "extract_openalex_institutions.py"),
                    "--openalex", str(OPENALEX), "--out", str(out)], check=True, timeout=300,
                   capture_output=True)
    assert out.read_bytes() == (PACKAGE / "data" / "sources" / inputs.F_OPENALEX).read_bytes()


def test_an_accepted_link_whose_only_evidence_is_the_evaluation_set_is_not_applied():
    reg = load_registry()
    skipped = reg.built_from["id_links"]["not_applied_evaluation_evidence"]
    assert "auto_soochow_university=I3923682" in skipped
    assert not [e.entry_id for e in reg if "I3923682" in e.openalex_ids]


def test_a_ror_whose_country_is_unknown_is_checked_through_its_ror_parent():
    b = core.Builder(build.SOURCES, None)
    b._oa_index = core.OpenAlexIndex(r2o={"r-cas": {"I1"}}, country={"I1": {"CN"}})
    b._ror_records = {"r-unit": {"relationships": [["parent", "CAS", "https://ror.org/r-cas"]]},
                      "r-cas": {"relationships": []}}
    ru = core.Acc(code="BIS_ENTITY_LIST", key="k", name="Institute of High Energy Physics",
                   countries=["RU"], ror="r-unit")
    cn = core.Acc(code="BIS_ENTITY_LIST", key="k2", name="Institute of High Energy Physics",
                   countries=["CN"], ror="r-unit")
    b.entries = {("BIS_ENTITY_LIST", "k"): ru, ("BIS_ENTITY_LIST", "k2"): cn}
    b.reject_cross_country_ids()
    assert ru.ror is None and cn.ror == "r-unit"
    assert "ROR parent (r-cas) recorded in CN" in b.cross_country[("k", "r-unit")]


def test_version_zero_records_each_shipped_file_its_hash_and_entries(tmp_path, built):
    reg = load_registry()
    zero = VersionStore(tmp_path).versions()[0]
    by_origin = {s["origin"].split(" ")[0]: s for s in zero.sources}
    for rel, info in built.document["built_from"]["inputs"].items():
        src = by_origin[f"tracker/data/sources/{rel}"]
        assert src["sha256"] == info["sha256"] and src["bytes"] == info["bytes"]
    per_list = Counter(e.list for e in reg)
    el = by_origin[f"tracker/data/sources/{inputs.F_EL}"]["entries"]
    assert el["BIS_ENTITY_LIST"] == sum(1 for e in reg if e.list == "BIS_ENTITY_LIST"
                                        and inputs.FILE_PROVENANCE[inputs.F_EL] in e.provenance)
    assert by_origin[f"tracker/data/sources/{inputs.F_1286}"]["entries"] == {
        "DOD_1286": per_list["DOD_1286"]}
    csl = by_origin["tracker/data/sources/trade_csl/2022-05-06/consolidated.csv.gz"]
    assert csl["entries"] == {c: per_list[c] for c in
                              ("BIS_UVL", "STATE_DDTC_DEBARRED", "STATE_ISN")}
    shipped = PACKAGE / "data" / "sources" / "trade_csl" / "2022-05-06" / "consolidated.csv.gz"
    assert csl["sha256"] == hashlib.sha256(_content(shipped)).hexdigest()
    named = {c for s in zero.sources for c in s["entries"]}
    assert named == set(per_list)   # every list is traced to a shipped file


def test_lists_build_help_teaches_with_an_example(capsys):
    assert main(["lists", "build", "--help"]) == 0
    assert "tracker lists build --out tracker/data/registry.json" in capsys.readouterr().out


def test_lists_build_exits_4_when_a_shipped_file_is_missing(tmp_path, monkeypatch, capsys):
    import tracker.registry_versions as rv

    def missing(**_: Any) -> build.BuildResult:
        return build.build_registry(rv.list_sources_stage, source=tmp_path)

    monkeypatch.setattr(rv, "build_version_zero", missing)
    code = main(["lists", "build", "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 4
    assert err.count("\n") == 1 and "the registry cannot be built" in err
    assert "institutions.csv.gz" in err and not (tmp_path / "r.json").exists()


def test_an_update_gives_a_new_institution_its_reviewed_link_never_across_countries():
    """The build's last stage and ``tracker lists update`` share compose_registry, which
    applies the reviewed ID links to institutions new to the registry."""
    from datetime import date

    from tracker.listsources import ParsedEntry, parse_bytes
    from tracker.registry_versions import ListUpdate, auto_key, compose_registry

    bundled = load_registry()
    shipped = PACKAGE / "data" / "sources" / "fcc_covered_list" / "2026-08-20" / "table.csv"
    src = parse_bytes(shipped.read_bytes(), origin="fcc table", retrieved_at="2026-08-20")
    name = "Institute of a Name No Registry Entry Prints"
    key = auto_key(name)
    link = build.ReviewedLink(f"{key}=I1", key, "CN", "I1", "r1", "exact_name_country",
                              "reviewed: same institute")

    def composed(country: str, links: dict[str, tuple[build.ReviewedLink, ...]]) -> Any:
        upd = ListUpdate("FCC_COVERED", [ParsedEntry(list="FCC_COVERED", name=name,
                                                     country=country)], src, date(2026, 8, 20))
        reg = compose_registry(bundled, {"FCC_COVERED": upd}, links=links)
        (e,) = [x for x in reg if x.list == "FCC_COVERED"]
        return e

    e = composed("CN", {key: (link,)})
    assert e.institution_key == key and e.ror == "r1" and e.openalex_ids == ("I1",)
    assert f"ID link {key}=I1 (reviewed" in e.provenance
    abroad = composed("RU", {key: (link,)})
    assert abroad.ror is None and abroad.openalex_ids == ()
    assert composed("CN", {}).openalex_ids == ()


def test_lists_versions_names_version_zeros_shipped_files(tmp_path, capsys):
    assert main(["lists", "versions", "--home", str(tmp_path)]) == 0
    table = "".join(c for c in capsys.readouterr().out if c not in "│ \n")
    assert "filesshippedin" in table
    assert main(["lists", "versions", "--home", str(tmp_path), "--json"]) == 0
    zero = json.loads(capsys.readouterr().out)["versions"][0]
    origins = {s["origin"].split(" ")[0] for s in zero["sources"]}
    assert f"tracker/data/sources/{inputs.F_OPENALEX}" in origins
    assert all(s["sha256"] and s["entries"] for s in zero["sources"])
