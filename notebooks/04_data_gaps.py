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
# # 4. Data gaps: what a screening could not see
#
# A screening finds only the ties its data shows.  When OpenAlex did not attach an
# institution to an author, cut the author list, or gives only a year, a tie can be missed
# or its timing left open.  This notebook measures those gaps for a body of work and says
# what they mean for an empty findings table.
#
# **"No findings" is not clearance**, and a flag is evidence for review, not a determination.
# The gaps below are why.
#
# The data: the 71 real OpenAlex works bundled with tracker (`tracker.demo_works_path()`,
# CC0), screened as one body of work.  They are a fixed sample assembled from other projects'
# saved API responses, not any organisation's output.

# %%
from collections import Counter

import pandas as pd
import plotly.graph_objects as go

import tracker
from tracker.frames import findings_frame

registry = tracker.load_registry()
works = list(tracker.read_works(tracker.demo_works_path()))
result = tracker.screen(works, registry=registry,
                        settings=tracker.ScreenSettings(name_matching=False))
counts, gaps = result.run["counts"], result.run["data_gaps"]
print(f"works read {counts['works_read']}, authorships {counts['authorships']}, "
      f"works flagged {counts['works_flagged']}, findings {counts['findings']}")
# The figures quoted in the text below, checked so the text cannot drift from the data.
assert (counts["works_read"], counts["authorships"]) == (71, 1409)
assert (gaps["works_year_only"], gaps["works_authors_truncated"]) == (17, 5)
assert (gaps["authorships_without_institution"], gaps["authorships_without_institution_with_raw"],
        gaps["authorships_without_anything"], gaps["works_partial_record"]) == (78, 76, 2, 17)

# %% [markdown]
# Name matching (finding a listed institution in the raw affiliation text when OpenAlex
# attached no institution) is switched off here, so the run is identifiers only and its run
# record says so.  That makes the size of the unresolved-affiliation gap visible.

# %% [markdown]
# ## The run record's data gaps
#
# Every run records these counts in `run.json` (`data_gaps`), and the report shows them.

# %%
work_gaps = {
    "year only (no full date)": gaps["works_year_only"],
    "no date at all": gaps["works_without_date"],
    "author list truncated": gaps["works_authors_truncated"],
    "partial record (select= query)": gaps["works_partial_record"],
    "no authorships": gaps["works_without_authorships"],
    "record unreadable (skipped)": gaps["records_skipped"],
}
auth_gaps = {
    "no institution, raw text present": gaps["authorships_without_institution_with_raw"],
    "no institution, nothing at all": gaps["authorships_without_anything"],
}
fig = go.Figure()
fig.add_bar(x=list(work_gaps.values()), y=list(work_gaps.keys()), orientation="h",
            name=f"works (of {counts['works_read']})",
            text=[f"{v} / {counts['works_read']}" for v in work_gaps.values()])
fig.add_bar(x=list(auth_gaps.values()), y=list(auth_gaps.keys()), orientation="h",
            name=f"authorships (of {counts['authorships']})",
            text=[f"{v} / {counts['authorships']}" for v in auth_gaps.values()])
fig.update_layout(title="Data gaps in the bundled works (run['data_gaps'])",
                  xaxis_title="count", yaxis={"autorange": "reversed"}, height=420,
                  margin={"l": 260})
fig

# %% [markdown]
# - **Year-only dates** (17 works): "was the institution listed at publication?" can be
#   answered only by year, and the listing year itself stays `unknown`.
# - **Truncated author lists** (5 works): OpenAlex list responses stop at 100 authors; the
#   authors beyond were not screened.  (Live runs refetch such works whole.)
# - **Authorships without an institution** (78 of 1,409): these cannot be matched by
#   identifier.  76 of them carry a raw affiliation string, which name matching can read; 2
#   carry nothing, and no method can screen them.
# - **Partial records** (17): saved from `select=` queries; their authorships are complete,
#   but the full date, topics and keywords are missing, so topic filters match their title
#   only.  They are the same 17 works as the year-only ones.

# %% [markdown]
# ## Per-work tallies
#
# The same gaps, work by work, from the public `Work` and `Authorship` fields.

# %%
flagged = {f.work_id for f in result.findings}


def tally(w):
    unresolved = [a for a in w.authorships if not a.institutions]
    return {
        "work_id": w.id,
        "date": str(w.publication_date or w.publication_year or ""),
        "date_known_as": ("full date" if w.publication_date else
                          "year only" if w.publication_year else "none"),
        "authorships": len(w.authorships),
        "no_institution_raw": sum(1 for a in unresolved if a.raw_affiliations),
        "no_institution_nothing": sum(1 for a in unresolved if not a.raw_affiliations),
        "authors_truncated": {True: "yes", False: "no", None: "not stated"}[
            w.is_authors_truncated],
        "flagged": w.id in flagged,
        "title": (w.title or "")[:60],
    }


per_work = pd.DataFrame([tally(w) for w in works]).sort_values(["date", "work_id"],
                                                                ignore_index=True)
per_work["any_gap"] = ((per_work["date_known_as"] != "full date")
                       | (per_work["no_institution_raw"] > 0)
                       | (per_work["no_institution_nothing"] > 0)
                       | (per_work["authors_truncated"] == "yes"))
print(f"{int(per_work['any_gap'].sum())} of {len(per_work)} works have at least one gap")
per_work.loc[per_work["any_gap"], ["work_id", "date", "authorships", "no_institution_raw",
                                    "no_institution_nothing", "authors_truncated", "flagged"]]

# %%
with_unresolved = per_work[(per_work["no_institution_raw"] + per_work["no_institution_nothing"])
                           > 0]
label = with_unresolved["work_id"] + " (" + with_unresolved["date"] + ")"
resolved = (with_unresolved["authorships"] - with_unresolved["no_institution_raw"]
            - with_unresolved["no_institution_nothing"])
fig = go.Figure()
fig.add_bar(y=label, x=resolved, orientation="h", name="institution attached",
            marker_color="#9ecae1")
fig.add_bar(y=label, x=with_unresolved["no_institution_raw"], orientation="h",
            name="no institution, raw text only", marker_color="#fd8d3c")
fig.add_bar(y=label, x=with_unresolved["no_institution_nothing"], orientation="h",
            name="no institution, nothing", marker_color="#d62728")
fig.update_layout(barmode="stack", title="Authorships per work: how many could be screened "
                  "by identifier (works with any unresolved authorship, by date)",
                  xaxis_title="authorships", height=560, yaxis={"autorange": "reversed"})
fig

# %% [markdown]
# ## What "no findings" is worth, work by work
#
# A work with no findings and no known gap is the strongest "nothing seen" this data can
# give, and still not clearance: OpenAlex can be wrong about an affiliation, and the lists
# can miss an institution's other names.  A work with no findings *and* a gap is weaker:
# the gap is exactly where a tie could hide.

# %%
unflagged = per_work[~per_work["flagged"]]


def weakest_point(row):
    if row["no_institution_nothing"] > 0:
        return "authorship with no affiliation at all"
    if row["authors_truncated"] == "yes":
        return "author list truncated"
    if row["no_institution_raw"] > 0:
        return "affiliation as raw text only"
    if row["date_known_as"] != "full date":
        return "year-only date (timing, not ties)"
    return "no known gap"


reading = unflagged.apply(weakest_point, axis=1).value_counts()
order = ["no known gap", "year-only date (timing, not ties)", "affiliation as raw text only",
         "author list truncated", "authorship with no affiliation at all"]
reading = reading.reindex(order, fill_value=0)
fig = go.Figure(go.Bar(x=reading.index, y=reading.values, text=reading.values,
                       marker_color=["#4daf4a", "#bdbdbd", "#fd8d3c", "#e6550d", "#d62728"]))
fig.update_layout(title=f"The {len(unflagged)} works with no findings, by their weakest point",
                  yaxis_title="works", height=420)
print(reading.to_dict())
fig

# %% [markdown]
# ## What name matching recovers
#
# `tracker screen` also reads the raw affiliation strings (name matching, on by default).
# The same works, screened again with it:

# %%
from tracker.names import NameMatcher

with_names = tracker.screen(works, registry=registry, name_matcher=NameMatcher(registry))
named = findings_frame(with_names)
print("findings by method:", named.groupby("match_method").size().to_dict())
by_name = named[named["match_method"].isin(["name", "fuzzy"])].copy()
raw_only = {(w.id, a.author_id) for w in works for a in w.authorships if not a.institutions}
by_name["openalex attached"] = [
    "no institution" if (wid, aid) in raw_only else "another institution"
    for wid, aid in zip(by_name["work_id"], by_name["author_id"], strict=True)]
print(by_name.groupby("openalex attached")["finding_id"].count().to_dict())
newly_flagged = sorted(set(by_name["work_id"]) - flagged)
print("works flagged only thanks to name matching:", newly_flagged)
by_name.drop_duplicates(["work_id", "list_entry_name"])[
    ["work_id", "publication_date", "list", "list_entry_name", "openalex attached",
     "raw_affiliation", "confidence"]]

# %%
# The example the text below gives, checked against the data.
assert {"W1714665356", "W2048195127"} <= set(newly_flagged)
ict = by_name[by_name["work_id"].isin(["W1714665356", "W2048195127"])]
assert ict["raw_affiliation"].str.contains("Institute of Computing Technology").all()
assert set(ict["openalex attached"]) == {"another institution"}

# %% [markdown]
# Name matching reaches a gap the counts above do not show: **affiliations OpenAlex resolved
# to another institution** than the one the string names.  Two short-text topic-model papers
# (2013, 2014) give "Institute of Computing Technology, CAS" in the raw string; OpenAlex
# attached only the Chinese Academy of Sciences (not listed itself), while the institute is
# on the BIS Entity List.  Identifier matching cannot see that tie; name matching can.  Both
# papers were among the "no findings" works of the identifier-only run above.
#
# Name matches deserve a closer look than identifier matches (their `confidence` and
# `match_detail` say why they were made).  No method helps the authorships with no
# affiliation at all, nor authors cut from a truncated list.

# %% [markdown]
# ## The other side: list entries without a listing date
#
# Gaps are not only in the works.  When no source gives the date an institution was added to
# a list, every finding on it answers `listed at publication = unknown`.

# %%
by_list = Counter()
undated = Counter()
for e in registry:
    by_list[e.list] += 1
    if e.listed_on is None:
        undated[e.list] += 1
entries = pd.DataFrame({"entries": pd.Series(by_list), "without listing date": pd.Series(undated)}
                       ).fillna(0).astype(int).sort_index()
entries["share without date"] = (entries["without listing date"] / entries["entries"]).round(2)
print("registry total without listing date:", gaps["entries_without_listing_date"])
entries

# %%
answers = findings_frame(result).groupby(["list", "listed_at_publication"]).size().unstack(
    fill_value=0)
answers

# %% [markdown]
# ## Take-aways
#
# - 78 of 1,409 authorships (5.5 %) in this sample have no institution attached; two carry
#   nothing at all.  Identifier matching cannot see them; name matching (on by default in
#   `tracker screen`) reads the raw strings, and also catches listed units that OpenAlex
#   resolved to their parent.
# - 5 works have truncated author lists and 17 give only a year.
# - Of the works with no findings, only those in the green bar have no known gap; the rest
#   have a specific reason why "no findings" is weaker there.
# - Some lists give no sourced listing date for many entries (the ASPI tracker is an
#   assessment with no listing dates at all; several DoD 1286 editions carry no publication
#   date), so "listed at publication" stays `unknown` instead of being guessed.
# - Report these gaps with every result.  An empty findings table with large gaps is a
#   statement about the data, not about the people.
