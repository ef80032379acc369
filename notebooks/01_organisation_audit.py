# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Organisation audit: an organisation's co-authorships with listed institutions
#
# The question a research-security office is asked: *"since a given date, which papers of this
# organisation have authors at an institution on a US restricted list, and was that
# institution listed when the paper came out?"*  Optionally narrowed to a topic (here: facial
# recognition, person re-identification, surveillance).
#
# The subject here is **Microsoft Research Asia** (OpenAlex `I4210113369`), because it is
# present in the data bundled with tracker: 71 real OpenAlex work records (CC0, see
# `tracker/data/demo/PROVENANCE.md`).  They are a small fixed sample, **not** the lab's
# output; every number below describes the sample, not Microsoft Research Asia.
#
# **Read every result as evidence for review, not a determination.**  tracker matches
# institutions (by OpenAlex ID, ROR and, optionally, affiliation text), never people's names,
# ethnicity or nationality.  It ranks no people.  **"No findings" is not clearance**: it means
# no tie was seen in the data read, and the data gaps at the end say what could not be seen.

# %% [markdown]
# ## How the same audit runs live (not executed here)
#
# Against the live OpenAlex API, the whole notebook is one command.  It fetches every work
# of the organisation published since the date (an API key is read from the environment and
# never written anywhere), screens it, and writes `findings.csv/.json/.xlsx`, `run.json`, the
# network files and a self-contained `report.html`:
#
# ```bash
# export OPENALEX_API_KEY=...
# tracker screen --org I4210113369 --since 2024-03-01 \
#     --topic "facial recognition" --topic "person re-identification" --topic surveillance \
#     --out msra-audit/
# ```
#
# On saved records (as here) the same screening is
# `tracker screen --works works.jsonl.gz --org I4210113369 --since 2024-03-01 --out msra-audit/`.
# This notebook uses the Python API instead, so each step can be looked at.

# %%
from datetime import date

import pandas as pd

import tracker
from tracker.frames import findings_frame
from tracker.graph import flagged_network
from tracker.names import NameMatcher
from tracker.report import network_figure, timeline_figure

pd.set_option("display.max_colwidth", 70)
registry = tracker.load_registry()
names = NameMatcher(registry)  # also read raw affiliation strings, as `tracker screen` does
works = list(tracker.read_works(tracker.demo_works_path()))
print(f"{len(works)} bundled works; registry {registry.version}: {len(registry)} list entries "
      f"on {len(registry.lists)} lists")

# %% [markdown]
# ## The subject
#
# A `SubjectSpec` says whose affiliations are "the subject's own".  An authorship belongs to
# the subject when one of its institutions is Microsoft Research Asia or sits under it in
# OpenAlex's institution lineage.  Works without any such authorship are not screened.

# %%
MSRA = tracker.SubjectSpec(kind="org", ids=("I4210113369",), label="Microsoft Research Asia")
msra_works = [w for w in works if MSRA.has_work(w)]
for w in msra_works:
    print(w.id, w.publication_date or w.publication_year, "|", w.title)
assert sorted(w.publication_year for w in msra_works) == [2011, 2021]

# %% [markdown]
# ## Step 1: the audit window as asked (since 2024-03-01)

# %%
TOPICS = ("facial recognition", "person re-identification", "surveillance")
# tracker.run does what `tracker screen --works FILE --org ID --since DATE` does: read the
# file, work out the subject, build the name matcher, screen; record=False keeps this out of
# the case file.
asked = tracker.run(tracker.RunRequest(works=(tracker.demo_works_path(),),
                                       orgs=("I4210113369",), since=date(2024, 3, 1),
                                       record=False)).result
print({k: asked.run["counts"][k] for k in ("works_read", "works_out_of_window",
                                           "works_not_of_subject", "findings")})
assert asked.run["counts"]["works_read"] == 0

# %% [markdown]
# **Zero works read, so zero findings, and that says nothing.**  The bundle holds no
# Microsoft Research Asia paper from 2024 or later.  A real audit would fetch them live (the
# command above).  This is the plainest case of "no findings is not clearance": the run
# record's `works_read` is the first number to check before reading anything into an empty
# findings table.
#
# ## Step 2: the same audit over the years the bundle covers
#
# To show what an audit with findings looks like, the window is widened to 2010 onwards.

# %%
SINCE = date(2010, 1, 1)
audit = tracker.run(tracker.RunRequest(works=(tracker.demo_works_path(),),
                                       orgs=("I4210113369",), since=SINCE,
                                       record=False)).result
assert audit.run["settings"]["name_matching"]  # raw affiliation strings read too
counts = audit.run["counts"]
print(f"works read: {counts['works_read']}, flagged: {counts['works_flagged']}, "
      f"findings (evidence rows): {counts['findings']}")
print("by list:", counts["findings_by_list"])

# %% [markdown]
# Every finding is one (work, authorship, institution, list entry) tie with its evidence.
# `listed_at_publication` compares the paper's date with the entry's **sourced** listing
# date: `yes`, `no` (also when the paper predates the list itself), or `unknown` when no
# source gives a listing date or the paper has only a year.  ASPI's China Defence Universities Tracker is *context* (an assessment), not a
# legal designation; it is kept apart below.

# %%
frame = findings_frame(audit.findings)
cols = ["work_id", "publication_date", "author_name", "institution_name", "list", "listed_on",
        "listed_at_publication", "relation", "match_method", "outcome"]
frame.sort_values(["publication_date", "work_id", "list", "author_name"])[cols]

# %% [markdown]
# ### Who is the "co-author"?
#
# `relation` says whether the listed affiliation sits on an authorship that is also the
# subject's (`subject`) or on another author's (`coauthor`).  Here **every tie is
# `subject`**: the authors concerned list Microsoft Research Asia *and* a university at the
# same time on this paper (a dual affiliation).  The record does not say whether the person
# worked at the lab, the university or both when the work was done; the raw affiliation
# strings are in the findings for the reviewer.

# %%
print(frame.groupby("relation").size().to_dict())
assert set(frame["relation"]) == {"subject"}

# %% [markdown]
# ## One evidence row per paper
#
# Reviewers usually start from papers.  One row per flagged paper, with what was found on
# legal designations and, separately, on the context list.  Rows are in date order; nothing
# is ranked.

# %%
def joined(values):
    return "; ".join(sorted({v for v in values if v}))


def one_row_per_paper(frame):
    rows = []
    for (work_id, when, title), ties in frame.groupby(["work_id", "publication_date", "title"]):
        legal = ties[ties["is_designation"]]
        context = ties[~ties["is_designation"]]
        rows.append({
            "work_id": work_id, "publication_date": when, "title": title,
            "designation lists": joined(legal["list"]),
            "listed institutions": joined(legal["institution_name"]),
            "listed at publication": joined(legal["listed_at_publication"]),
            "evidence rows": len(legal),
            "context only (ASPI)": joined(context["institution_name"]),
        })
    return pd.DataFrame(rows).sort_values(["publication_date", "work_id"], ignore_index=True)


papers = one_row_per_paper(frame)
# What the text below says about these rows, checked against the data.
assert list(papers["work_id"]) == ["W2099223662", "W3138516171"]
legal = frame[frame["is_designation"]]
assert set(legal["listed_at_publication"]) <= {"no", "unknown"}
bis = legal[legal["list"] == "BIS_ENTITY_LIST"]
assert set(bis["institution_name"]) == {"University of Science and Technology of China"}
assert set(bis["listed_on"]) == {"2024-05-14"}
entry = registry.entry_index[bis["entry_id"].iloc[0]]
assert "89 FR 41888" in " ".join(d.citation for d in entry.dates)
assert set(legal.loc[legal["list"] == "DOD_1286", "listed_at_publication"]) == {"no"}
assert set(frame.loc[frame["work_id"] == "W2099223662", "list"]) == {"ASPI_UNITRACKER"}
papers

# %% [markdown]
# What the rows say, on this sample:
#
# - **Swin Transformer (2021-10-01)**: an author affiliated with the University of Science
#   and Technology of China, which the BIS Entity List added on 2024-05-14 (89 FR 41888), so
#   *not listed at publication*; USTC and Xi'an Jiaotong University are also on the DoD
#   Section 1286 list from its FY2024 edition, whose publication date no source in the
#   registry gives; but the list's first edition was published on 2023-06-29, after this
#   paper, hence `no`.
# - **TextFlow (2011)**: a Zhejiang University affiliation, on the ASPI tracker only (context,
#   no designation).
#
# None of these is *listed at publication* on a designation list.  That matters for rules
# that look at the listing date, and not at all for rules that look at today's lists.

# %% [markdown]
# ## The topic filter
#
# The same run, keeping only works whose title, OpenAlex topics or keywords mention facial
# recognition, person re-identification or surveillance.

# %%
on_topic = tracker.screen(works, registry=registry, subjects=[MSRA], name_matcher=names,
                          settings=tracker.ScreenSettings(since=SINCE, topics=TOPICS))
print("Microsoft Research Asia, on topic:", on_topic.run["counts"]["works_read"], "works,",
      on_topic.run["counts"]["findings"], "findings")

# %% [markdown]
# **No bundled Microsoft Research Asia work matches these topics**: an honest zero from a
# 71-work sample, not a statement about the lab.
#
# Widening the subject to the parent organisation, Microsoft (`I1290206253`; Microsoft
# Research Asia sits under it in OpenAlex's lineage, so its works stay included), finds one
# work: *Faster R-CNN*, which matches because OpenAlex's machine-assigned topics for it include
# "Video Surveillance and Tracking Methods".  Topic labels are coarse; a reviewer reads the
# paper before calling it surveillance research.

# %%
MICROSOFT = tracker.SubjectSpec(kind="org", ids=("I1290206253",), label="Microsoft")
parent_topic = tracker.screen(works, registry=registry, subjects=[MICROSOFT],
                              name_matcher=names,
                              settings=tracker.ScreenSettings(since=SINCE, topics=TOPICS))
topic_frame = findings_frame(parent_topic.findings)
print("Microsoft, on topic:", parent_topic.run["counts"]["works_read"], "work(s),",
      parent_topic.run["counts"]["findings"], "findings")
for w in parent_topic.works.values():
    print(w.id, w.title, "| matching topics:",
          [t for t in w.topics if any(k in t.lower() for k in TOPICS)])
assert list(parent_topic.works) == ["W639708223"]
assert set(topic_frame["relation"]) == {"coauthor"}
topic_frame[["work_id", "publication_date", "author_name", "institution_name", "list",
             "listed_on", "listed_at_publication", "relation"]]

# %% [markdown]
# Here the tie is a **co-author's** (`coauthor`): the author at USTC lists no Microsoft
# affiliation on this paper.  The BIS Entity List added USTC on 2024-05-14, eight years after
# publication (2016-06-06): `listed_at_publication = no`.

# %% [markdown]
# ## The network of flagged ties
#
# Works, the authors with a flagged affiliation, and the listed institutions.  Hover a node
# or a tie for the evidence.  Positions come from a seeded layout and carry no meaning.

# %%
graph, note = flagged_network(audit)
print(note)
network_figure(graph, title="Microsoft Research Asia (bundled sample): flagged ties")

# %% [markdown]
# ## Timeline: publication dates against listing dates
#
# One row per list entry; dots are flagged works coloured by *listed at publication*; ticks
# mark each entry's sourced listing date.  An open dot means only the year is known.
# Entries without a sourced listing date (here the DoD 1286 FY2024 additions) have no tick.

# %%
timeline_figure(audit.findings)

# %% [markdown]
# ## What limits this audit
#
# The run record lists the data gaps.  A tie the data cannot show is not found.

# %%
gaps = audit.run["data_gaps"]
assert (gaps["works_year_only"], gaps["works_authors_truncated"],
        gaps["authorships_without_institution"]) == (1, 0, 0)
{k: gaps[k] for k in ("works_year_only", "works_authors_truncated",
                      "authorships_without_institution",
                      "authorships_without_institution_with_raw", "name_matching")}

# %% [markdown]
# For these two works the record is good: every authorship has an institution and no author
# list is cut.  One work (TextFlow) has only a publication year, so its timing questions can
# be answered by year only.  Notebook 04 looks at gaps across all bundled works.

# %% [markdown]
# ## Take-aways for the analyst
#
# - In the bundled sample, 2 Microsoft Research Asia works (2011 and 2021) carry ties to
#   listed institutions, all through **dual affiliations** of the lab's own authors; none was
#   listed on a designation list at publication.
# - A window with no works (since 2024-03-01 here) gives no findings and no assurance.
# - The topic filter found no matching Microsoft Research Asia work; widening the subject
#   found one, through a coarse machine-assigned topic.
# - Every row is evidence for a reviewer to check against the paper and the list text; the
#   decision, and the record of it, belong to the reviewer (see notebook 02).
