"""What the registry build reads: the files shipped in ``tracker/data/sources``, where each
was recorded, its provenance and licence, the readers (gunzipping ``.gz`` files), and the
reviewed ID links.

Every file is read through :mod:`importlib.resources`; nothing outside the package.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

#: The folder of shipped files the build reads (``tracker/data/sources``).
SOURCES: Traversable = files("tracker") / "data" / "sources"
#: The package's data folder (reviewed merges and ID links live here).
DATA: Traversable = files("tracker") / "data"
#: reviewed name + country merges (and reviewed "keep apart" decisions), one reason each
MERGES_FILE = "institution_merges.csv"
#: candidate and reviewed ID links (exact name + country to a recorded OpenAlex record)
LINKS_FILE = "id_links.csv"
#: The independent evaluation set's OpenAlex files (tests/matching_eval/PROTOCOL.md): the
#: build never reads them, and applies no link whose only evidence is one of them.
EVALUATION_FILES = (
    "institutions_bibgraph_2025-10.jsonl.gz",
    "snapshot_institutions_updated_date_2023-09-04_part_000.jsonl.gz",
    "authors_bibgraph_2025-10.jsonl.gz",
)


def rests_on_evaluation_set(evidence: str) -> bool:
    """Whether a link's evidence names a file of the evaluation set (and no other record).

    >>> rests_on_evaluation_set("OpenAlex I1 has this name (shared/data/openalex/"
    ...                         "authors_bibgraph_2025-10.jsonl.gz)")
    True
    >>> rests_on_evaluation_set("ROR record 049wsmj07 has this name")
    False
    """
    return any(f in evidence for f in EVALUATION_FILES)


class InputMissingError(FileNotFoundError):
    """A file the build reads is not in the package: the registry cannot be built."""


def read_bytes(item: Traversable) -> bytes:
    """A shipped file's content (gunzipped when its name ends in ``.gz``).

    Raises
    ------
    InputMissingError
        The file is not there.
    """
    try:
        data = item.read_bytes()
    except OSError as exc:
        raise InputMissingError(f"{item}: cannot read a file the registry build needs: "
                                f"{exc.strerror or exc}") from exc
    return gzip.decompress(data) if item.name.endswith(".gz") else data


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_text(item: Traversable) -> str:
    return read_bytes(item).decode("utf-8")


def read_json(item: Traversable) -> Any:
    return json.loads(read_text(item))


def read_csv(item: Traversable) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(read_text(item), newline="")))


def read_jsonl(item: Traversable) -> Iterator[Any]:
    for line in read_text(item).splitlines():
        if line.strip():
            yield json.loads(line)


def bare_ror(value: str | None) -> str | None:
    if not value:
        return None
    return value.rstrip("/").rsplit("/", 1)[-1]


def short_oa(value: str | None) -> str | None:
    if not value:
        return None
    return value.rstrip("/").rsplit("/", 1)[-1]



NSFREG = "github:phagehunter/nsfreg@02787e87e65d9452d34e1413859cbea1b0a94b00"
OS_1286 = ("github:opensanctions/opensanctions@7ccd1f43f96d062ff530bf82ef2751c8f8ed6692:"
           "datasets/us/special_leg/source_files/section_1286.csv")
OS_1260H = ("github:opensanctions/opensanctions@dd4f7d35145097d25835ebc72dfa7617742165e6:"
            "datasets/us/dod_chinese_milcorps/sanctions.csv")
KAIXINOL = ("github:kaixinol/china-university-entity-list@4edbb8273431e747b4506bd4ea86c913c16bcc5c"
            ":data.json (scrape of https://www.bis.gov/regulations/ear/744#supplement-4-744, "
            "generatedAt 2026-03-30T14:41:14Z)")
KAIXINOL_ZH = ("github:kaixinol/china-university-entity-list@"
               "4edbb8273431e747b4506bd4ea86c913c16bcc5c:data-cn.json "
               "(Chinese names added by the repo author, not by BIS)")
MISP = ("github:MISP/misp-galaxy@b4c3ffc8eb060e9ca3c27a3a6ad0a579f4ccbd19:"
        "clusters/china-defence-universities.json (scrape of unitracker.aspi.org.au, 2020-08-21)")
CANADA = ("github:tdhock/tdhock.github.io@ac5bf7cb1166c7273bce8733bd2d9352caa90334:"
          "assets/2024-09-09-canada-list-of-risky-research-orgs.html (copy of "
          "science.gc.ca 'Named Research Organizations', modified 2024-04-18, "
          "downloaded 2024-09-09); rows extracted to raw/canada_nro_list_2024-04-18.csv")
ROR_REPO = "github:ror-community/ror-records@d93fc667872f8ef9386896bd6c68bd3c6103603e"
INSTITUTIONS = "shared/data/restricted/institutions.csv (compiled 2026-11-22; see PROVENANCE.md)"

LIC_USGOV = "public domain (US-government work)"
LIC_NSFREG = "public domain (US-government text; parsed by phagehunter/nsfreg, no licence file)"
LIC_OS = "CC BY-NC 4.0 (OpenSanctions transcription of US-government lists)"
LIC_KAIXINOL = "public domain (US-government text; scraped by an AGPL-3.0 repository)"
LIC_ASPI = "CC0-1.0 / BSD-2-Clause (MISP galaxy); text is ASPI's content"
LIC_CANADA = "Government of Canada web content; reuse terms NOT verified"
LIC_ROR = "CC0-1.0 (ROR)"
LIC_OPENALEX = "CC0-1.0 (OpenAlex)"
LIC_WEB = "short quotations of public web pages, for citation only"

URL_EL = "https://www.ecfr.gov/current/title-15/subtitle-B/chapter-VII/subchapter-C/part-744#Supplement-No.-4-to-Part-744"
URL_MEU = ("https://www.ecfr.gov/current/title-15/subtitle-B/chapter-VII/subchapter-C/part-744/"
           "appendix-Supplement%20No.%207%20to%20Part%20744")
URL_1286 = "https://basicresearch.defense.gov/Programs/Academic-Research-Security/"
URL_1260H = ("https://www.federalregister.gov/documents/search?conditions%5Bsearch_type_id%5D=3"
             "&conditions%5Bterm%5D=1260H")
URL_NSCMIC = "https://www.treasury.gov/ofac/downloads/ccmc/nscmiclist.pdf"
URL_EO14032 = "https://ofac.treasury.gov/media/99111/download?inline"
URL_NRO = ("https://science.gc.ca/site/science/en/safeguarding-your-research/guidelines-and-tools-"
           "implement-research-security/sensitive-technology-research-and-affiliations-concern/"
           "named-research-organizations")
URL_ASPI = "https://unitracker.aspi.org.au/"

F_INST = "curated/institutions.csv.gz"
F_EL = "bis_entity_list/bis_entity_list_ecfr_2026-07-09_nsfreg.json.gz"
F_EL_WEB = "bis_entity_list/bis_entity_list_cn_universities_2026-03-30.json"
F_EL_ZH = "bis_entity_list/bis_entity_list_cn_universities_zh_names.json"
F_MEU = "bis_meu/bis_meu_list_ecfr_2026-07-09_nsfreg.json"
F_1286 = "dod_1286/dod_section1286_lists_opensanctions.csv.gz"
F_1260H = "dod_1260h/dod_section1260h_full_opensanctions.csv.gz"
F_1260H_FR = "dod_1260h/dod_section1260h_fr-2026-06-10_nsfreg.json"
F_NSCMIC = "ofac_ns_cmic/ofac_nscmic_list_nsfreg_extracted_2026-07-09.json"
F_EO14032 = "ofac_ns_cmic/ofac_eo14032_annex_2021-06-03_nsfreg.json"
F_NRO = "ca_nro/canada_nro_list_2024-04-18.csv"
F_ASPI = "aspi_unitracker/aspi_unitracker_misp_galaxy_2020-08-21.json.gz"
F_ROR = "ror/ror_records_selected.jsonl.gz"
F_WEB = "curated/web_evidence.csv"
#: OpenAlex institution objects (CC0) extracted by ``scripts/extract_openalex_institutions.py``
F_OPENALEX = "openalex/institution_objects.jsonl.gz"
INPUT_FILES = (F_INST, F_EL, F_EL_WEB, F_EL_ZH, F_MEU, F_1286, F_1260H, F_1260H_FR, F_NSCMIC,
               F_EO14032, F_NRO, F_ASPI, F_ROR, F_WEB, F_OPENALEX)

#: Where each shipped file was copied from (the project's reference data, whose
#: PROVENANCE.md documents it; the shipped copy is that file, gzipped where named ``.gz``).
RECORDED_AS = {
    F_INST: "restricted/institutions.csv",
    F_EL: "restricted/raw/bis_entity_list_ecfr_2026-07-09_nsfreg.json",
    F_EL_WEB: "restricted/raw/bis_entity_list_cn_universities_2026-03-30.json",
    F_EL_ZH: "restricted/raw/bis_entity_list_cn_universities_zh_names.json",
    F_MEU: "restricted/raw/bis_meu_list_ecfr_2026-07-09_nsfreg.json",
    F_1286: "restricted/raw/dod_section1286_lists_opensanctions.csv",
    F_1260H: "restricted/raw/dod_section1260h_full_opensanctions.csv",
    F_1260H_FR: "restricted/raw/dod_section1260h_fr-2026-06-10_nsfreg.json",
    F_NSCMIC: "restricted/raw/ofac_nscmic_list_nsfreg_extracted_2026-07-09.json",
    F_EO14032: "restricted/raw/ofac_eo14032_annex_2021-06-03_nsfreg.json",
    F_NRO: "restricted/raw/canada_nro_list_2024-04-18.csv",
    F_ASPI: "restricted/raw/aspi_unitracker_misp_galaxy_2020-08-21.json",
    F_ROR: "restricted/raw/ror_records_selected.jsonl",
    F_WEB: "restricted/raw/web_evidence.csv",
}

FILE_PROVENANCE = {
    F_INST: INSTITUTIONS,
    F_EL: f"{NSFREG}:data/bis_entity_list.json",
    F_EL_WEB: KAIXINOL,
    F_EL_ZH: KAIXINOL_ZH,
    F_MEU: f"{NSFREG}:data/bis_meu.json",
    F_1286: OS_1286,
    F_1260H: OS_1260H,
    F_1260H_FR: f"{NSFREG}:data/dow_1260h.json",
    F_NSCMIC: f"{NSFREG}:data/ofac_nscmic.json",
    F_EO14032: f"{NSFREG}:data/ofac_eo14032_annex.json",
    F_NRO: CANADA,
    F_ASPI: MISP,
    F_ROR: f"{ROR_REPO} (records for the ROR IDs used in institutions.csv)",
    F_WEB: "raw/web_evidence.csv (quoted excerpts of stored public web pages, E1-E17)",
    F_OPENALEX: "institution objects (id, ror, display_name, country_code, lineage) of the "
                "recorded OpenAlex works, extracted by scripts/extract_openalex_institutions.py",
}


@dataclass(frozen=True, slots=True)
class ReviewedLink:
    """One accepted row of ``id_links.csv``: the IDs a reviewer confirmed for an
    institution key, and what was checked."""

    link_id: str
    institution_key: str
    country: str
    openalex_id: str
    ror: str
    method: str
    review_note: str


def accepted_links(links: Traversable | None = None) -> dict[str, tuple[ReviewedLink, ...]]:
    """The accepted links of ``id_links.csv`` (default: the shipped file) by institution key.

    The one reading of the reviewed links for the build and for ``tracker lists update``:
    links resting only on the independent evaluation set are left out
    (:func:`rests_on_evaluation_set`).  An absent file gives none.

    Examples
    --------
    >>> links = accepted_links()
    >>> [x.ror for x in links["auto_sensetime_group_limited"]]
    ['049wsmj07']
    >>> "auto_soochow_university" in links   # its only evidence is the evaluation set
    False
    """
    item = links if links is not None else DATA / LINKS_FILE
    if not item.is_file():
        return {}
    out: dict[str, list[ReviewedLink]] = {}
    for row in read_csv(item):
        if row.get("status") != "accepted" or rests_on_evaluation_set(row.get("evidence", "")):
            continue
        out.setdefault(row["institution_key"], []).append(ReviewedLink(
            row["link_id"], row["institution_key"], row.get("country", ""),
            row.get("openalex_id", ""), row.get("ror", ""), row.get("method", ""),
            row.get("review_note", "")))
    return {k: tuple(v) for k, v in sorted(out.items())}
