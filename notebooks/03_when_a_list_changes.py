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
# # 3. When a list changes: what a new edition does to past findings
#
# Lists grow.  When the Department of Defense publishes a new Section 1286 edition, or BIS
# adds a university to the Entity List, papers published years ago can acquire ties that
# were not there before.  A research-security office then needs to know **which ties are
# new, which disappeared, and why**, and must not confuse "listed now" with "listed when the
# paper came out".
#
# Two real cases, on the 71 real OpenAlex works bundled with tracker (CC0; a fixed sample,
# not any organisation's output):
#
# 1. **DoD Section 1286, FY2024 edition → FY2025 edition**, from the registry's editions.
# 2. **BIS Entity List: the University of Science and Technology of China (USTC), added on
#    2024-05-14** (89 FR 41888), the day before and the day of the addition.
#
# Every tie shown is evidence for review, not a determination; and a tie that disappears
# with an edition (or never appears) is not clearance.

# %%
from datetime import date

import pandas as pd
import plotly.graph_objects as go

import tracker
from tracker.frames import findings_frame
from tracker.report import timeline_figure
from tracker.watchlists import Registry, diff_editions

pd.set_option("display.max_colwidth", 70)
registry = tracker.load_registry()
works = list(tracker.read_works(tracker.demo_works_path()))
SETTINGS = tracker.ScreenSettings(name_matching=False)  # identifiers only: ties by OpenAlex ID/ROR
print(f"{len(works)} works; registry {registry.version}")

# %% [markdown]
# ## The editions the registry knows
#
# Each list entry records every edition it appears in.  `tracker lists` shows the same.

# %%
editions = pd.DataFrame([{
    "list": ed.list, "edition": ed.edition, "entries": ed.entry_count,
    "published_on": ed.published_on.isoformat() if ed.published_on else "unknown",
    "basis of that date": ed.basis,
} for ed in registry.editions if ed.list == "DOD_1286"])
editions

# %% [markdown]
# Only the FY2022 edition has a sourced publication date.  For the others no source gives
# one, so tracker does not invent it: an entry first seen in FY2024 or FY2025 has no
# listing date, and any finding on it answers *listed at publication* with `unknown`.

# %%
transitions = [("FY2022", "FY2023"), ("FY2023", "FY2024"), ("FY2024", "FY2025")]
changes = []
for old, new in transitions:
    added, removed = diff_editions(registry, "DOD_1286", old, new)
    changes.append({"change": f"{old} → {new}", "added": len(added), "removed": len(removed)})
changes = pd.DataFrame(changes)
fig = go.Figure()
fig.add_bar(x=changes["change"], y=changes["added"], name="entries added", marker_color="#b2182b")
fig.add_bar(x=changes["change"], y=-changes["removed"], name="entries removed",
            marker_color="#2166ac")
fig.update_layout(title="DoD Section 1286: entries added and removed between editions",
                  barmode="relative", yaxis_title="entries (removed shown below zero)",
                  height=400)
fig

# %% [markdown]
# ## Case 1: screening the same works against FY2024, then FY2025
#
# The registry's public constructor builds a registry holding one edition of one list: the
# entries whose `editions` include it.

# %%
def edition_registry(reg, list_code, edition):
    """The registry restricted to one edition of one list."""
    return Registry(
        [e for e in reg if e.list == list_code and edition in e.editions],
        lists=[reg.lists[list_code]],
        editions=[ed for ed in reg.editions if ed.list == list_code and ed.edition == edition],
        version=f"{reg.version} {list_code}@{edition}",
    )


def run_against(reg):
    return tracker.screen(works, registry=reg, settings=SETTINGS)


fy24 = run_against(edition_registry(registry, "DOD_1286", "FY2024"))
fy25 = run_against(edition_registry(registry, "DOD_1286", "FY2025"))
for name, res in (("FY2024", fy24), ("FY2025", fy25)):
    c = res.run["counts"]
    print(f"{name}: {c['findings']} findings on {c['works_flagged']} works")

# %% [markdown]
# ### The diff
#
# A finding's ID depends only on the work, the author, the institution and the list entry,
# so the same tie keeps its ID across runs and editions.  Comparing the two runs by ID gives
# the ties that appeared, disappeared, or stayed.

# %%
def diff_runs(before, after):
    a, b = findings_frame(before), findings_frame(after)
    a["change"] = "disappeared"
    b["change"] = "new"
    kept = set(a["finding_id"]) & set(b["finding_id"])
    changed = pd.concat([a[~a["finding_id"].isin(kept)], b[~b["finding_id"].isin(kept)]])
    return changed, len(kept)


changed, kept = diff_runs(fy24, fy25)
print(f"ties kept: {kept}; new: {(changed['change'] == 'new').sum()}; "
      f"disappeared: {(changed['change'] == 'disappeared').sum()}")

# %% [markdown]
# ### Why each tie changed
#
# One row per institution and direction: the institution's entry, the editions it is in,
# and the works affected.  The reason is read from the entry's own edition history.

# %%
def why(row):
    entry = registry.entry_index[row["entry_id"]]
    if row["change"] == "new":
        return f"entry first appears in FY2025 (editions: {', '.join(entry.editions)})"
    return f"entry not in FY2025 (editions: {', '.join(entry.editions)})"


changed["why"] = changed.apply(why, axis=1)
by_institution = (changed.groupby(["change", "institution_name", "list_entry_name", "why"])
                  .agg(works=("work_id", lambda s: ", ".join(sorted(set(s)))),
                       ties=("finding_id", "count"),
                       listed_at_publication=("listed_at_publication",
                                              lambda s: ", ".join(sorted(set(s)))))
                  .reset_index())
by_institution

# %%
new_institutions = set(changed.loc[changed["change"] == "new", "institution_name"])
# The text below names these three; check it stays true of the bundled data and registry.
assert {"Fudan University", "Shanghai Jiao Tong University", "Xidian University"} <= \
    new_institutions, new_institutions
assert not (changed["change"] == "disappeared").any()

# %% [markdown]
# What an analyst takes from this:
#
# - The FY2025 edition added Fudan University, Shanghai Jiao Tong University and Xidian
#   University (among others), so bundled papers from 2012 to 2020 now carry 1286 ties they
#   did not carry under FY2024.  The papers did not change; the list did.
# - Those new ties answer *listed at publication* with `unknown`, because no source dates
#   the FY2025 edition.  A reviewer can see from the edition history that the entries are
#   not in FY2024, but tracker does not turn that into a date.
# - A tie that disappears (an entry dropped from the newer edition) is not clearance
#   either: the older edition still applies to what was decided under it.  In this sample
#   no bundled work touches an entry dropped in FY2025.

# %% [markdown]
# ## Case 2: the BIS Entity List adds USTC on 2024-05-14
#
# The Entity List is not published in numbered editions here: each entry carries the date
# of the Federal Register rule that added it.  A registry **as of a date** holds the entries
# listed on that date (and not yet removed).  Entries without a sourced listing date cannot
# be placed in time and are left out of both views (the run record counts them).

# %%
def registry_as_of(reg, list_code, when):
    """Entries of one list that were listed on ``when`` by their sourced dates."""
    keep = [e for e in reg if e.list == list_code and e.listed_between(when) is True]
    return Registry(keep, lists=[reg.lists[list_code]],
                    editions=[ed for ed in reg.editions if ed.list == list_code],
                    version=f"{reg.version} {list_code}@{when.isoformat()}")


ADDED = date(2024, 5, 14)
before = run_against(registry_as_of(registry, "BIS_ENTITY_LIST", date(2024, 5, 13)))
after = run_against(registry_as_of(registry, "BIS_ENTITY_LIST", ADDED))
undated = sum(1 for e in registry if e.list == "BIS_ENTITY_LIST" and e.listed_on is None)
print(f"Entity List entries without a sourced listing date (left out): {undated}")
changed_bis, kept_bis = diff_runs(before, after)
print(f"ties kept: {kept_bis}; new on {ADDED}: {(changed_bis['change'] == 'new').sum()}; "
      f"disappeared: {(changed_bis['change'] == 'disappeared').sum()}")
changed_bis[["change", "work_id", "publication_date", "title", "author_name",
             "institution_name", "listed_on", "listed_at_publication", "relation"]]

# %%
ustc = changed_bis[changed_bis["institution_name"]
                   == "University of Science and Technology of China"]
assert not ustc.empty and set(ustc["listed_on"]) == {"2024-05-14"}
assert set(ustc["listed_at_publication"]) == {"no"}
assert sorted(ustc["publication_date"]) == ["2016-06-06", "2021-10-01"]

# %% [markdown]
# The USTC ties appear the day the rule is published, on papers from years before
# (*Faster R-CNN*, 2016, and *Swin Transformer*, 2021, in this sample), and each says
# **listed at publication: no**.  Under a rule that asks whether a collaboration was with a
# listed institution *at the time*, these are not such ties; under a rule that looks at
# current lists (for example, a new proposal naming these co-authors), they are.  Which rule
# applies is the reviewer's call; the finding gives both dates.
#
# The timeline shows it: the papers sit to the left of the listing tick.

# %%
timeline_figure(ustc.to_dict("records"))

# %% [markdown]
# ## Take-aways
#
# - Rerun past screenings when a list changes: ties can appear on old papers.  Finding IDs
#   are stable, so the diff is exact and review decisions on kept ties carry over.
# - Read *listed at publication* before acting: a new tie on an old paper is usually `no`
#   (a later listing) or `unknown` (no sourced date), rarely `yes`.
# - Record which editions a run used: every run record lists the registry version and the
#   list editions (`run["registry"]`).

# %%
pd.DataFrame(fy25.run["registry"]["editions"])[["list", "edition", "published_on", "data_date"]]
