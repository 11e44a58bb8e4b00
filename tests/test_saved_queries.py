"""The saved queries in queries/ answer the questions the five sources answer, with sources and quotes.

Each query runs on one build of the graph with the defaults its `# param:` header lines give, bound as
initBindings (never spliced). Expected answers are the ones the source texts give; every evidence
quote a query returns must occur in the stored source file of the document the row names.
"""
from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from rdflib import Graph, Literal, URIRef
from rdflib.term import Identifier

from kgtool.build import build
from kgtool.config import Project
from kgtool.namespaces import KG, KGDOC, KGR, PREFIXES
from kgtool.store import Engine, query_graph

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "queries"
SOURCES = ROOT / "corpus" / "sources"
FACTS = ROOT / "data" / "facts"
NAMES = ("state-corporation-deposits", "reserve-figures", "conflicting-claims", "deposit-profile", "roadmap",
         "foreign-deposit-agreements", "rare-earth-facilities", "source-documents")
XSD_DATE = URIRef("http://www.w3.org/2001/XMLSchema#date")
XSD_NUMBERS = ("http://www.w3.org/2001/XMLSchema#decimal", "http://www.w3.org/2001/XMLSchema#integer")
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
PARAM_LINE = re.compile(r"^#\s*param:\s*(\S+)\s+(iri|string|integer|date)\s+(\S+)(?:\s+(.*))?$")

Row = dict[str, Identifier]


# ---- helpers --------------------------------------------------------------------------------------

def _term(kind: str, raw: str) -> Identifier:
    """A `# param:` default as an RDF term (a stand-in until the real header parser is used here)."""
    if kind == "integer":
        return Literal(int(raw))
    if kind == "date":
        return Literal(raw, datatype=XSD_DATE)
    if kind == "string":
        return Literal(raw)
    if raw.startswith("<") and raw.endswith(">"):
        return URIRef(raw[1:-1])
    prefix, _, local = raw.partition(":")
    assert prefix in PREFIXES and local, f"default {raw!r} is neither a project prefixed name nor <iri>"
    return URIRef(PREFIXES[prefix] + local)


def header_params(name: str) -> dict[str, tuple[str, str]]:
    """name -> (type, default) for each `# param:` line of the query's header (default may be '-')."""
    params = {}
    for line in (QUERIES / f"{name}.rq").read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        match = PARAM_LINE.match(line)
        if match:
            params[match.group(1)] = (match.group(2), match.group(3))
    return params


def default_bindings(name: str) -> dict[str, Identifier]:
    return {param: _term(kind, default) for param, (kind, default) in header_params(name).items() if default != "-"}


def run_saved(graph: Graph, name: str, **overrides: Identifier) -> list[Row]:
    """The query's rows on rdflib's engine (the reference; tests/test_store.py compares Oxigraph with it)."""
    bindings = {**default_bindings(name), **overrides}
    answer = query_graph(graph, (QUERIES / f"{name}.rq").read_text(encoding="utf-8"), bindings, engine=Engine.RDFLIB)
    return [{k: v for k, v in zip(answer.variables, row) if v is not None} for row in answer.rows]


def s(row: Row, key: str) -> str | None:
    """A column as text, None when unbound."""
    value = row.get(key)
    return None if value is None else str(value)


def num(row: Row, key: str) -> Decimal:
    value = row[key]
    assert isinstance(value, Literal), f"{key} is not a literal: {value!r}"
    return Decimal(str(value))


def r(local: str) -> URIRef:
    return KGR[local]


def source_text(doc_id: str) -> str:
    files = list(SOURCES.glob(f"{doc_id}_*.txt"))
    assert len(files) == 1, f"no single source file for document {doc_id}"
    return files[0].read_text(encoding="utf-8")


def assert_quotes_in_sources(rows: list[Row]) -> None:
    """Every quote column (quote, quoteA, ...) occurs verbatim in the file of its document (docId, docIdA, ...)."""
    checked = 0
    for row in rows:
        for key, value in row.items():
            if not key.startswith("quote"):
                continue
            doc_id = s(row, "docId" + key[len("quote"):])
            assert doc_id is not None, f"row has {key} but no document id: {row}"
            assert str(value).strip(), f"empty quote in {row}"
            assert str(value) in source_text(doc_id), f"quote not in document {doc_id}: {value!r}"
            checked += 1
    assert checked, "no evidence quotes were returned"


# ---- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graph() -> Graph:
    return build(Project(ROOT)).graph


@pytest.fixture(scope="module")
def results(graph: Graph) -> dict[str, list[Row]]:
    return {name: run_saved(graph, name) for name in NAMES}


# ---- the files themselves -------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_header_and_portable_shape(name: str) -> None:
    text = (QUERIES / f"{name}.rq").read_text(encoding="utf-8")
    lines = text.splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    assert lines[len(header)] == "", "the header must be followed by a blank line"
    assert header[0].startswith("# title: ") and len(header[0]) > len("# title: ")
    assert header[1].startswith("# description: ")
    for line in header[2:]:
        assert re.match(r"^# (description|param|example): |^#   \S", line), f"bad header line {line!r}"
    assert any(line.startswith(f"# example: kgtool query {name}") for line in header)
    for line in header:
        if line.startswith("# param:"):
            assert PARAM_LINE.match(line), f"bad param line {line!r}"
    body = "\n".join(lines[len(header):])
    assert re.search(r"^\s*SELECT\b", body, re.M)
    assert re.search(r"^ORDER BY\b", body, re.M), "every query orders its rows"
    assert not re.search(r"^\s*FROM\b", body, re.M | re.I)
    for param in header_params(name):
        assert f"?{param}" in body, f"param {param} is not used as ?{param}"


@pytest.mark.parametrize("name", [n for n in NAMES if n != "source-documents"])
def test_evidence_quotes_occur_in_the_sources(results: dict[str, list[Row]], name: str) -> None:
    assert_quotes_in_sources(results[name])


def test_same_answers_on_a_second_engine_with_values_bindings(graph: Graph, results: dict[str, list[Row]]) -> None:
    """Portability: Oxigraph, with the defaults given as a trailing VALUES clause, returns the same rows."""
    import pyoxigraph as ox  # a test dependency: a second SPARQL engine

    store = ox.Store()
    store.load(graph.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES)

    def norm_rdflib(term: Identifier | None) -> Any:
        if term is None or isinstance(term, URIRef):
            return None if term is None else ("iri", str(term))
        assert isinstance(term, Literal)
        if term.datatype is not None and str(term.datatype) in XSD_NUMBERS:
            return ("num", Decimal(str(term)))
        return ("lit", str(term), str(term.datatype) if term.datatype else None, term.language)

    def norm_ox(term: Any) -> Any:
        if term is None:
            return None
        if isinstance(term, ox.NamedNode):
            return ("iri", term.value)
        datatype = term.datatype.value if term.datatype and not term.language else None
        if datatype in XSD_NUMBERS:
            return ("num", Decimal(term.value))
        return ("lit", term.value, None if datatype == XSD_STRING else datatype, term.language)

    for name in NAMES:
        text = (QUERIES / f"{name}.rq").read_text(encoding="utf-8")
        bindings = default_bindings(name)
        if bindings:
            text += ("\nVALUES (" + " ".join(f"?{k}" for k in bindings) + ") { ("
                     + " ".join(v.n3() for v in bindings.values()) + ") }\n")
        solutions = store.query(text)
        variables = [v.value for v in solutions.variables]
        theirs = [tuple(norm_ox(solution[v]) for v in variables) for solution in solutions]
        ours = [tuple(norm_rdflib(row.get(v)) for v in variables) for row in results[name]]
        assert ours == theirs, f"{name}: rdflib and Oxigraph differ"


# ---- 1. deposits of Russian state corporations ----------------------------------------------------

def test_state_corporation_deposits(results: dict[str, list[Row]]) -> None:
    rows = results["state-corporation-deposits"]
    found = {(s(x, "corporation"), s(x, "deposit"), s(x, "how"), s(x, "holder"), s(x, "since"), s(x, "docId"))
             for x in rows}
    # 000: "The Solikamsk plant sources loparite concentrate ... from Rosatom-controlled deposits in the
    # Murmansk Oblast"; 002: "PROMISING MINING PROJECTS JSC (Rostec's structure) received the right to use the
    # subsoil", "At the end of last year" resolved against the document date 2025-02-26 -> 2024.
    assert found == {
        (str(r("rosatom")), str(r("murmansk-rosatom-deposits")), "direct", str(r("rosatom")), None, "000"),
        (str(r("rostec")), str(r("ak-sugsky")), "via subsidiary", str(r("promising-mining-projects")), "2024", "002"),
    }
    by_corporation = {s(x, "corporationLabel"): x for x in rows}
    assert "Rosatom-controlled deposits in the Murmansk Oblast" in str(by_corporation["Rosatom"]["quote"])
    assert "PROMISING MINING PROJECTS JSC (Rostec's structure) received the right to use the subsoil" \
        in str(by_corporation["Rostec"]["quote"])
    assert s(by_corporation["Rostec"], "holderLabel") == "Promising Mining Projects JSC"
    # Rosatom is Russian by document 000 ("Rosatom, a Russian monopoly"); no source says Rostec is Russian,
    # so its jurisdiction comes from a background claim that names its reference work, not a document.
    assert s(by_corporation["Rosatom"], "jurisdictionSource") == "000"
    assert "270-FZ" in (s(by_corporation["Rostec"], "jurisdictionSource") or "")
    # Intergeo's licence for Ak-Sugsky ended in 2024; First Mining Company only develops Pavlovsky.
    assert not any(s(x, "deposit") == str(r("pavlovsky")) for x in rows)


def test_state_corporation_deposits_country_param(graph: Graph) -> None:
    assert run_saved(graph, "state-corporation-deposits", country=r("china")) == []


# ---- 2. Russia's rare-earth reserves ----------------------------------------------------------------

def test_reserve_figures(results: dict[str, list[Row]]) -> None:
    rows = results["reserve-figures"]
    found = Counter((num(x, "value"), s(x, "unit"), s(x, "estimatedBy"), s(x, "asOf"), s(x, "docId")) for x in rows)
    tonne = "https://w3id.org/kgtool/vocab/tonne"
    assert found == Counter({
        # 002: "According to Rosnedra, Russia's reserves of rare earth metals for 2024 were estimated at 28.7 million tons"
        (Decimal("28700000"), tonne, str(r("rosnedra")), "2024", "002"): 1,
        # 001: "the Ministry of Natural Resources reporting 28.7 million tonnes of 15 rare-earth metals as of January 2023"
        (Decimal("28700000"), tonne, str(r("ministry-of-natural-resources")), "2023-01", "001"): 1,
        # 003: "including 28.5 million tons of 15 key rare-earth elements, according to the Natural Resources Ministry"
        (Decimal("28500000"), tonne, str(r("ministry-of-natural-resources")), None, "003"): 1,
    })
    for row in rows:
        assert s(row, "asStated") in str(row["quote"])
        assert s(row, "subjectLabel") == "Russia" and s(row, "unitLabel") == "tonne"
    assert {s(x, "estimatedByLabel") for x in rows} == {"Rosnedra", "Ministry of Natural Resources"}


def test_reserve_figures_params(graph: Graph) -> None:
    rows = run_saved(graph, "reserve-figures", commodity=r("rare-metals"))
    # 001: "approximately 658 million metric tons"; 003: "around 658 million tons of rare metals"
    assert sorted((num(x, "value"), s(x, "docId")) for x in rows) == [
        (Decimal("658000000"), "001"), (Decimal("658000000"), "003")]
    assert run_saved(graph, "reserve-figures", subject=r("china")) == []


# ---- 3. conflicting claims ---------------------------------------------------------------------------

def test_conflicting_claims(results: dict[str, list[Row]]) -> None:
    rows = results["conflicting-claims"]
    pairs = [(s(x, "docIdA"), s(x, "statedA"), s(x, "docIdB"), s(x, "statedB")) for x in rows]
    assert len(pairs) == len(set(pairs)), "each conflicting pair once"
    assert all(str(x["claimA"]) < str(x["claimB"]) for x in rows)
    assert set(pairs) == {
        ("001", "28.7 million tonnes", "003", "28.5 million tons"),  # the ministry's two reserve figures
        ("001", "In April", "003", "In May"),                      # when the US-Ukraine deal was signed
        ("000", "around two-thirds", "002", "about 15%"),          # China's share of world production
        ("002", "about 15%", "004", "about two-thirds"),
    }
    values = {(s(x, "docIdA"), s(x, "docIdB"), s(x, "statedA")): (x["valueA"], x["valueB"]) for x in rows}
    assert [Decimal(str(v)) for v in values[("001", "003", "28.7 million tonnes")]] == [
        Decimal("28700000"), Decimal("28500000")]
    assert [str(v) for v in values[("001", "003", "In April")]] == ["--04", "--05"]
    for row in rows:
        assert s(row, "statedA") in str(row["quoteA"]) and s(row, "statedB") in str(row["quoteB"])
        assert s(row, "docA") == str(KGDOC[s(row, "docIdA") or ""])


# ---- 4. the Tomtorskoye deposit --------------------------------------------------------------------

def test_deposit_profile_tomtorskoye(results: dict[str, list[Row]]) -> None:
    rows = results["deposit-profile"]
    assert {s(x, "depositLabel") for x in rows} == {"Tomtorskoye deposit"}
    assert all(s(x, "docId") == "002" for x in rows)
    # "the Tomtorskoye niobium and rare earth metals deposit ... ore containing 0.7 million tons of niobium
    # oxide and 1.7 million tons of rare earth oxides"
    contains = {s(x, "item") for x in rows if s(x, "aspect") == "contains"}
    assert contains == {str(r("niobium")), str(r("rare-earth-metals")), str(r("niobium-oxide")),
                        str(r("rare-earth-oxides"))}
    assert {s(x, "symbol") for x in rows if s(x, "item") == str(r("niobium"))} == {"Nb"}
    reserves = {s(x, "item"): (num(x, "value"), s(x, "unitLabel"), s(x, "asStated"))
                for x in rows if s(x, "aspect") == "reserves"}
    assert reserves == {
        str(r("ore")): (Decimal("11400000"), "tonne", "11.4 million tons"),
        str(r("niobium-oxide")): (Decimal("700000"), "tonne", "0.7 million tons"),
        str(r("rare-earth-oxides")): (Decimal("1700000"), "tonne", "1.7 million tons"),
    }
    # "(owned by the managers of the Alexander Nesis EAST Group) in Yakutia"
    owners = [x for x in rows if s(x, "aspect") == "owned by"]
    assert [s(x, "item") for x in owners] == [str(r("east-group-managers"))]
    assert "owned by the managers of the Alexander Nesis EAST Group" in str(owners[0]["quote"])
    assert {s(x, "item") for x in rows if s(x, "aspect") == "located in"} == {str(r("yakutia"))}


def test_deposit_profile_param(graph: Graph) -> None:
    rows = run_saved(graph, "deposit-profile", deposit=r("ak-sugsky"))
    # 002: "balance reserves of 78 thousand tons of molybdenum and 83.3 tons of rhenium"; Intergeo's licence
    # ended in 2024, Promising Mining Projects JSC holds it since 2024.
    reserves = {s(x, "item"): num(x, "value") for x in rows if s(x, "aspect") == "reserves"}
    assert reserves == {str(r("molybdenum")): Decimal("78000"), str(r("rhenium")): Decimal("83.3")}
    holders = {(s(x, "item"), s(x, "since"), s(x, "until")) for x in rows if s(x, "aspect") == "licence held by"}
    assert holders == {(str(r("intergeo")), None, "2024"), (str(r("promising-mining-projects")), "2024", None)}


# ---- 5. the roadmap ----------------------------------------------------------------------------------

def test_roadmap(results: dict[str, list[Row]]) -> None:
    rows = results["roadmap"]
    ordered = {(s(x, "agent"), s(x, "docId")) for x in rows if s(x, "aspect") == "ordered by"}
    assert {agent for agent, _ in ordered} == {str(r("vladimir-putin"))}
    assert {doc for _, doc in ordered} == {"000", "001", "003", "004"}
    directive = {(s(x, "agent"), s(x, "docId")) for x in rows if s(x, "aspect") == "directive ordered by"}
    assert {agent for agent, _ in directive} == {str(r("vladimir-putin"))}
    deadlines = Counter((s(x, "deadline"), s(x, "docId"), s(x, "attributedToLabel"))
                        for x in rows if s(x, "aspect") == "deadline")
    assert deadlines == Counter({
        ("--12-01", "000", None): 1,        # "by December 1, reports the state-owned Russian news agency TASS"
        ("--12-01", "001", None): 1,        # "to develop a comprehensive roadmap ... by December 1"
        ("--12", "001", None): 1,           # "has ordered a strategic plan ... by December"
        ("--12", "003", None): 1,           # "approve a detailed “roadmap” for the sector by December"
        ("2025-12-01", "004", None): 1,     # "must approve a \"roadmap\" by December 1, 2025"
        ("2025-12-01", "004", "Kremlin"): 1,  # "Deadline - December 1, 2025 ... - the Kremlin reports."
    })
    for row in rows:
        if s(row, "aspect") == "deadline":
            assert s(row, "asStated") in str(row["quote"])
    assert {(s(x, "agentLabel"), s(x, "officeLabel"), s(x, "docId")) for x in rows if s(x, "aspect") == "overseen by"} \
        == {("Mikhail Mishustin", "Prime Minister of Russia", "001")}  # "to be overseen by Prime Minister Mikhail Mishustin"
    addressed = {s(x, "agent") for x in rows if s(x, "aspect") == "directive addressed to"}
    assert str(r("russian-government")) in addressed


# ---- 6. foreign firms tied to Russian deposits -------------------------------------------------------

def test_foreign_deposit_agreements(results: dict[str, list[Row]]) -> None:
    rows = results["foreign-deposit-agreements"]
    # 002: "the First Mining Company (part of Atomredmedzoloto, renamed Rosatom Nedra, the mining division of
    # Rosatom) concluded memoranda with the Chinese NFC and Pauerite Limited ... signed in March 2024"
    found = {(s(x, "firm"), s(x, "agreement"), s(x, "deposit"), s(x, "when"), s(x, "docId")) for x in rows}
    memoranda, pavlovsky = str(r("pavlovsky-memoranda")), str(r("pavlovsky"))
    assert found == {(str(r("nfc")), memoranda, pavlovsky, "2024-03", "002"),
                     (str(r("pauerite-limited")), memoranda, pavlovsky, "2024-03", "002")}
    by_firm = {s(x, "firmLabel"): x for x in rows}
    assert s(by_firm["NFC"], "firmJurisdiction") == str(r("china"))
    assert "the Chinese NFC and Pauerite Limited" in str(by_firm["NFC"]["quote"])
    # No source states Pauerite Limited's jurisdiction; it is listed as not stated to be Russian.
    assert s(by_firm["Pauerite Limited"], "firmJurisdiction") != str(r("russia"))
    # The First Mining Company is Russian through Rosatom Nedra and Rosatom, so it is not a foreign firm.
    assert str(r("first-mining-company")) not in {s(x, "firm") for x in rows}
    # Pavlovsky lies "in the Novaya Zemlya archipelago" (002); that Novaya Zemlya is in Russia is background.
    for row in rows:
        assert s(row, "country") == str(r("russia"))
        assert s(row, "lastPlace") == str(r("novaya-zemlya"))
        assert s(row, "locationSource") is not None


# ---- 7. rare-earth facilities outside China ----------------------------------------------------------

def test_rare_earth_facilities(results: dict[str, list[Row]]) -> None:
    rows = results["rare-earth-facilities"]
    smp, neo = str(r("solikamsk-magnesium-plant")), str(r("neo-estonia-magnet-plant"))
    assert {s(x, "facility") for x in rows} == {smp, neo}
    assert {(s(x, "facility"), s(x, "country")) for x in rows} == {(smp, str(r("russia"))), (neo, str(r("estonia")))}
    facts = {(s(x, "facility"), s(x, "aspect"), s(x, "related"), s(x, "since"), s(x, "until"), s(x, "docId"))
             for x in rows}
    # 000: "taken over from its previous owners in 2022 ... transferred to the state corporation Rosatom in 2023"
    assert (smp, "controlled by", str(r("rosatom")), "2023", None, "000") in facts
    assert (smp, "controlled by", str(r("smp-previous-owners")), None, "2022", "000") in facts
    assert (smp, "produces", str(r("rare-earth-metals")), None, None, "000") in facts
    assert (smp, "processes", str(r("loparite-concentrate")), None, None, "000") in facts
    # 004: "The first plant in Europe for the production of magnets from rare earth metals, owned by Neo
    # Performance Materials, has opened in Estonia."
    assert (neo, "owned by", str(r("neo-performance-materials")), None, None, "004") in facts
    assert (neo, "produces", str(r("rare-earth-magnets")), None, None, "004") in facts
    assert (neo, "located in", str(r("estonia")), None, None, "004") in facts


def test_rare_earth_facilities_param(graph: Graph) -> None:
    outside_russia = {s(x, "facility") for x in run_saved(graph, "rare-earth-facilities", outside=r("russia"))}
    assert outside_russia == {str(r("neo-estonia-magnet-plant"))}
    outside_estonia = {s(x, "facility") for x in run_saved(graph, "rare-earth-facilities", outside=r("estonia"))}
    assert outside_estonia == {str(r("solikamsk-magnesium-plant"))}


# ---- 8. source documents -----------------------------------------------------------------------------

def _claims_in_facts_file(doc_id: str) -> tuple[int, int]:
    data = yaml.safe_load((FACTS / f"{doc_id}.yaml").read_text(encoding="utf-8"))
    claims = [claim for fact in data.get("facts") or [] for claim in fact.get("claims") or []]
    quantitative = sum(1 for claim in claims if "quantity" in claim)
    return len(claims), quantitative


def test_source_documents(results: dict[str, list[Row]], graph: Graph) -> None:
    rows = results["source-documents"]
    assert [s(x, "docId") for x in rows] == ["000", "001", "002", "003", "004"]
    by_id = {s(x, "docId"): x for x in rows}
    assert {d: (s(x, "publisherLabel"), s(x, "date")) for d, x in by_id.items()} == {
        "000": (None, None),               # cites TASS, names no publisher and no date
        "001": ("SRM Today", None),        # "your SRM Today account"
        "002": ("Kommersant", "2025-02-26"),  # "Source: www.kommersant.ru/doc/7534002", "February 26, 2025"
        "003": ("MENAFN", None),           # "(MENAFN) Russian President Vladimir Putin"
        "004": ("UNN", "2025-11-04"),      # "Kyiv • UNN", "date 2025-11-04"
    }
    assert source_text("002").startswith("February 26, 2025")
    assert "date 2025-11-04" in source_text("004")
    for doc_id, row in by_id.items():
        total, quantitative = _claims_in_facts_file(doc_id)
        assert (int(row["claims"]), int(row["quantitativeClaims"]), int(row["relationClaims"])) == \
            (total, quantitative, total - quantitative), doc_id
        # metadata claims (about the document itself) exist but are not counted
    metadata = list(graph.subjects(KG.claimSubject, KGDOC["002"]))
    assert metadata, "document 002 has metadata claims"
