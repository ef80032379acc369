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
# # 2. Roster screening: a department's people over a five-year look-back
#
# The question: *"here is a roster of our people with their ORCID iDs; over the last five
# years, which of their papers carry ties to institutions on a restricted list, and what has
# a reviewer decided about each?"*
#
# **Read every result as evidence for review, not a determination.**  People are resolved to
# OpenAlex author profiles by **ORCID iD or OpenAlex author ID only**: a name is never
# matched, and a row with only a name is listed for confirmation and not screened.  tracker
# matches institutions, never people's names, ethnicity or nationality, and it ranks no one:
# people are listed in roster order.  **"No findings" is not clearance**: it means no tie
# was seen in the records read.
#
# The data: the 71 real OpenAlex works bundled with tracker (`tracker.demo_works_path()`,
# CC0).  The roster below is **illustrative**: real authors of bundled works, with the ORCID
# iDs their OpenAlex records carry, gathered here as if they formed one department.  They
# do not; the bundle is a fixed sample, not anyone's complete output, so every number below
# describes the sample, not a person.

# %% [markdown]
# ## How the same screening runs live (not executed here)
#
# ```bash
# export OPENALEX_API_KEY=...
# tracker screen --roster roster.csv --lookback 5y --as-of 2025-06-30 --out roster-report/
# ```
#
# fetches each person's works from OpenAlex (ORCID → every OpenAlex profile carrying it;
# several profiles, or one that looks merged, are flagged to confirm).  On saved records,
# as here, the same screening is
# `tracker screen --works works.jsonl.gz --roster roster.csv --lookback 5y --as-of 2025-06-30
# --out roster-report/`, which resolves the roster against the records' own authorships.

# %%
import csv
import shutil
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd
import plotly.express as px
from openpyxl import load_workbook

import tracker
from tracker.reviews import export_workbook, import_workbook

pd.set_option("display.max_colwidth", 60)
registry = tracker.load_registry()
works = list(tracker.read_works(tracker.demo_works_path()))
workdir = Path(tempfile.mkdtemp(prefix="tracker-roster-"))
print(f"{len(works)} bundled works; registry {registry.version}")

# %% [markdown]
# ## The roster
#
# Built from the bundled records: for each chosen OpenAlex author ID, the name and ORCID iD
# the records carry.  Three more rows show what tracker does with rows it cannot screen:
# an ORCID iD with a wrong check digit (a typo), an ORCID iD that appears in none of the
# records, and a row with a name only.

# %%
CHOSEN = ["A5046837287", "A5025114648", "A5070665604", "A5100700361", "A5066405480"]
known = {a.author_id: (a.author_name, a.orcid) for w in works for a in w.authorships
         if a.author_id in CHOSEN and a.orcid}
roster_path = workdir / "roster.csv"
with roster_path.open("w", newline="", encoding="utf-8") as fh:
    out = csv.writer(fh)
    out.writerow(["name", "department", "orcid", "openalex_id"])
    for aid in CHOSEN:
        name, orcid = known[aid]
        out.writerow([name, "Illustrative department", orcid, ""])
    out.writerow(["Typo in ORCID", "Illustrative department", "0000-0002-1825-0098", ""])
    # Josiah Carberry: ORCID's fictitious test researcher, in none of the bundled records.
    out.writerow(["Josiah Carberry", "Illustrative department", "0000-0002-1825-0097", ""])
    out.writerow(["A. Name-Only", "Illustrative department", "", ""])
rows, problems = tracker.read_roster(roster_path)
print(roster_path.read_text(encoding="utf-8"))
print("left out:", [str(p) for p in problems])
assert len(rows) == 7 and [p.line for p in problems] == [7]

# %% [markdown]
# The row with the mistyped ORCID iD (line 7) is reported with its line number and left out;
# the other rows go on.  ORCID's check digit (ISO 7064 MOD 11-2) catches most typos.

# %% [markdown]
# ## Five-year look-back as of a fixed date
#
# The `lookback` framework (a time window chosen by the user, not any agency's rule) marks a
# tie *within the window* when its work is dated in the five years before the as-of date and
# the institution was on a designation list at publication or on the as-of date.  Ties
# outside the window are kept as evidence with an outcome saying so.  A fixed as-of date
# (2025-06-30) keeps the notebook's answer the same on every day it runs.

# %%
AS_OF = date(2025, 6, 30)
# One request, as `tracker screen --works ... --roster ... --lookback 5y --as-of ...` makes:
# tracker.run reads the files, resolves the people, screens, and records the run in the
# case file (with the diff against the previous finished run of the same screen).
request = tracker.RunRequest(works=(tracker.demo_works_path(),), roster=roster_path,
                             lookback_years=5, as_of=AS_OF, db=workdir / "case.db",
                             command=("notebook", "02_roster_screening"))
first = tracker.run(request)
screened = first.roster
result = first.result
print(first.status, "run", first.run_id)
people = pd.DataFrame([{"roster line": p.row.line, "name": p.row.name,
                        "status": p.status, "OpenAlex IDs": ", ".join(p.ids),
                        "to confirm": "; ".join(p.flags)} for p in screened.people])
assert list(people["status"]) == ["screened"] * 5 + ["not found in the records",
                                                     "not screened"]
people

# %% [markdown]
# Five people resolved to one OpenAlex author ID each, through the ORCID iD on their
# authorships.  **Josiah Carberry is "not found"**: no record read carries the iD, so
# nothing about him was screened, and that is not clearance.  **The name-only row is not
# screened**: a name is never matched; the reviewer adds an ORCID iD or confirms a profile
# (`tracker screen --confirm choices.csv`), and the choice is remembered.

# %% [markdown]
# ## Findings per person, for review
#
# One row per person and finding, in **roster order** (never by number of findings).
# `person_relation` says whether the listed institution is on the person's **own**
# authorship or a **co-author**'s on the same paper; `outcome` is the look-back verdict for
# a reviewer to check.

# %%
per_person = pd.DataFrame(screened.per_person_rows())
cols = ["roster_line", "name", "person_relation", "work_id", "publication_date",
        "institution_name", "list", "listed_at_publication", "outcome"]
n_by_person = {p.row.name: len(screened.findings_for(p)) for p in screened.people}
print(n_by_person)
assert n_by_person == {"Gunnar Sivertsen": 3, "Stephen Lin": 6, "Bing Li": 2,
                       "Kaiming He": 5, "Leho Tedersoo": 0, "Josiah Carberry": 0,
                       "A. Name-Only": 0}
assert list(per_person["roster_line"]) == sorted(per_person["roster_line"])
per_person[cols]

# %% [markdown]
# What the rows say, on this sample:
#
# - **Bing Li**'s two ties are on his **own** authorship (Dalian University of Technology, on
#   the DoD Section 1286 list, and on ASPI's tracker, which is context, not a designation).
# - **Stephen Lin** has **co-author** ties on a 2021 paper, inside the window: one with the
#   University of Science and Technology of China, which the BIS Entity List added in 2024
#   (listed now, not at publication), and DoD 1286 ties whose listing date no source gives.
# - **Gunnar Sivertsen** has **co-author** ties on ASPI's tracker only (context).
# - **Kaiming He**'s ties are on works from 2015 and 2016, before the window: kept, with an
#   outcome saying no look-back rule applies.
# - **Leho Tedersoo** has no finding on the works read: not clearance, only a statement
#   about the records read.

# %%
own = per_person[per_person["person_relation"] == "own affiliation"]
assert set(own["name"]) == {"Bing Li"}
assert set(per_person.loc[per_person["name"].isin(["Stephen Lin", "Gunnar Sivertsen"]),
                          "person_relation"]) == {"co-author"}
he = per_person[(per_person["name"] == "Kaiming He") & (per_person["list"] != "ASPI_UNITRACKER")]
assert set(pd.to_datetime(he["publication_date"]).dt.year) == {2015, 2016}
assert all(o.startswith("review: no look-back rule applies") for o in he["outcome"])
lin_bis = per_person[(per_person["name"] == "Stephen Lin")
                     & (per_person["list"] == "BIS_ENTITY_LIST")]
assert list(lin_bis["listed_at_publication"]) == ["no"]
assert "listed as of the as-of date" in lin_bis["outcome"].iloc[0]
assert set(per_person.loc[per_person["name"] == "Gunnar Sivertsen", "list"]) == {
    "ASPI_UNITRACKER"}

# %% [markdown]
# ## Each person's ties on a time axis
#
# One row per screened person (roster order), one dot per tie, coloured by whose
# authorship carries it.  The shaded band is the five-year window.  A dot is evidence for a
# reviewer, not a score: the figure has no totals.

# %%
plot = per_person[per_person["work_id"] != ""].copy()
plot["publication_date"] = pd.to_datetime(plot["publication_date"])
order = [p.row.name for p in screened.people if p.ids]
fig = px.strip(plot, x="publication_date", y="name", color="person_relation",
               hover_data=["work_id", "institution_name", "list", "outcome"],
               category_orders={"name": order},
               title="Ties per person (roster order), as of 2025-06-30")
fig.add_vrect(x0=str(date(AS_OF.year - 5, AS_OF.month, AS_OF.day)), x1=str(AS_OF),
              fillcolor="lightgrey", opacity=0.3, line_width=0,
              annotation_text="5-year look-back")
fig

# %% [markdown]
# ## The review round trip
#
# Runs and decisions live in a case file (`tracker.Store`, one SQLite file; here a temporary
# one).  A decision belongs to a tie (`finding_id`, stable across reruns), so it carries
# over to every later run that finds the same tie.  The reviewer works in a spreadsheet:
#
# 1. record the run and export the review workbook (`tracker review export` on the command
#    line);
# 2. the reviewer fills in `status` and `reason` (done here in code, as a reviewer would in
#    Excel);
# 3. import it (`tracker review import reviews.xlsx --reviewer NAME`);
# 4. rerun the screening: the decision is still there.

# %%
store = tracker.Store(workdir / "case.db")
run_1 = first.run_id
workbook = export_workbook(store, workdir / "reviews.xlsx", run_1)
# The reviewer dismisses one tie: Gunnar Sivertsen's co-authors at Wuhan University are on
# ASPI's tracker only (context, no designation).
gunnar = per_person[per_person["name"] == "Gunnar Sivertsen"]
target = gunnar.iloc[0]["finding_id"]
wb = load_workbook(workbook)
ws = wb["reviews"]
header = [c.value for c in ws[1]]
for row in ws.iter_rows(min_row=2):
    if row[header.index("finding_id")].value == target:
        row[header.index("status")].value = "dismissed"
        row[header.index("reason")].value = "co-author's institution on a context list only"
wb.save(workbook)
imported = import_workbook(store, workbook, reviewer="A. Reviewer").counts()
print(imported)
assert imported["recorded"] == 1

# %% [markdown]
# Now the same screening again, as a later run would do (the same request), recorded in
# the same case file and compared with the first run.

# %%
rerun = tracker.run(request)
run_2 = rerun.run_id
assert rerun.previous_run_id == run_1
print("changes since run", run_1, ":", rerun.result.run["diff"]["counts"])
after = {r["finding_id"]: r for r in store.findings(run_2)}
print(after[target]["review_status"], "-", after[target]["review_reason"], "-",
      after[target]["reviewer"])
assert after[target]["review_status"] == "dismissed"
assert sum(r["review_status"] != "unreviewed" for r in after.values()) == 1
diff = store.diff(run_1, run_2)
print("changes between the runs:", diff["counts"])
assert diff["counts"]["new"] == diff["counts"]["gone"] == 0
store.close()

# %% [markdown]
# The dismissal survived the rerun, with who decided it and why; every other tie is still
# `unreviewed`, and nothing changed between the two runs.  Decisions are never overwritten:
# a new decision is a new row and the latest wins (`store.review_history(finding_id)`).
#
# ## What limits this screening
#
# The run record lists who was not screened and why, next to the usual data gaps.

# %%
gaps = result.run["data_gaps"]
assert gaps["people_not_found"] == ["line 8: Josiah Carberry"]
assert gaps["people_not_screened"] == ["line 9: A. Name-Only"]
shutil.rmtree(workdir)  # the temporary roster, case file and workbook: not left behind
{k: gaps[k] for k in ("people_not_found", "people_not_screened", "roster_resolution_limits",
                      "works_year_only", "authorships_without_institution")}

# %% [markdown]
# ## Take-aways for the analyst
#
# - People are resolved by ORCID iD or OpenAlex ID only; a name-only row is listed for
#   confirmation, never screened, and a mistyped iD is reported with its line.
# - Findings are listed per person in roster order, each marked own affiliation or
#   co-author; each is evidence for review, not a determination.
# - A person with no findings, or not found in the records, is **not cleared**.
# - Review decisions belong to ties and survive reruns; the case file keeps who decided
#   what, when and why.
