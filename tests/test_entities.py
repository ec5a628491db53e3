"""Entity canonicalisation over the real spaCy model, on invented text."""
from __future__ import annotations

import pyarrow as pa
import pytest

from schemas import ENTITIES, MENTIONS
from transforms.nlp.entities import (KEEP_LABELS, Mention, canonical_name, clean_surface,
                                 entity_rows, link_entities, mention_rows)

ARTICLE = (
    "Gov. Ellen Marsh said on Tuesday that the Northfield Transit Authority (NTA) "
    "would cut fares by $2 million. Marsh's office confirmed the plan. "
    "Dr. Omar T. Feld, who heads the NTA, disagreed. \"We cannot,\" Feld said. "
    "Sen. Paul Ridley of the Democratic Party visited Northfield. "
    "Ridley spoke with President Anna Kowal. Later Omar Feld left for Canada.")


@pytest.fixture(scope="module")
def doc(nlp):
    return nlp(ARTICLE)


@pytest.fixture(scope="module")
def mentions(doc):
    return link_entities(doc)


def names(mentions: list[Mention]) -> dict[str, str]:
    return {m.text: m.name for m in mentions}


def test_offsets_and_order(doc, mentions):
    assert mentions, "no mentions found"
    assert [m.start for m in mentions] == sorted(m.start for m in mentions)
    for m in mentions:
        assert doc.text[m.start:m.end] == m.text
        assert m.label in KEEP_LABELS


def test_person_titles_and_surnames(mentions):
    by_text = names(mentions)
    assert by_text["Ellen Marsh"] == "Ellen Marsh"
    assert by_text["Marsh"] == "Ellen Marsh"       # "Marsh's": possessive trimmed
    assert by_text["Feld"] == "Omar T. Feld"
    assert by_text["Omar Feld"] == "Omar T. Feld"  # shorter full name -> longest
    assert by_text["Ridley"] == "Paul Ridley"
    assert not any(m.text.startswith(("Gov.", "Dr.", "Sen.")) for m in mentions)
    assert all(m.label == "PERSON" for m in mentions if m.name == "Omar T. Feld")


def test_acronym_and_leading_the(mentions):
    nta = [m for m in mentions if m.text == "NTA"]
    assert len(nta) == 2
    assert {m.name for m in nta} == {"Northfield Transit Authority"}
    assert all(m.label == "ORG" for m in nta)
    assert "Democratic Party" in {m.name for m in mentions}
    assert not any(m.name.lower().startswith("the ") for m in mentions)


def test_no_numeric_labels(mentions):
    assert not any("$" in m.text or m.text == "Tuesday" for m in mentions)


def test_canonical_name(mentions):
    assert canonical_name(mentions, "Feld") == "Omar T. Feld"
    assert canonical_name(mentions, "Gov. Marsh") == "Ellen Marsh"
    assert canonical_name(mentions, "Marsh's") == "Ellen Marsh"
    assert canonical_name(mentions, "NTA") == "Northfield Transit Authority"
    assert canonical_name(mentions, "President Kowal") == "Anna Kowal"
    assert canonical_name(mentions, "he") is None
    assert canonical_name(mentions, "Nobody") is None
    assert canonical_name(mentions, "Feld", label="ORG") is None
    first_feld = min(m.start for m in mentions if m.name == "Omar T. Feld")
    assert canonical_name(mentions, "Feld", before=first_feld) is None


def test_clean_surface():
    assert clean_surface("Gov. Ellen Marsh's") == "Ellen Marsh"
    assert clean_surface("the United Nations", "ORG") == "United Nations"
    assert clean_surface("General Motors", "ORG") == "General Motors"


def test_mislabelled_surname_becomes_person(nlp):
    doc = nlp("Council member Priya Okonkwo-Hale voted no. "
              "Okonkwo-Hale said the budget was late. Okonkwo-Hale left.")
    ms = link_entities(doc)
    hits = [m for m in ms if m.name == "Priya Okonkwo-Hale"]
    assert len(hits) >= 2
    assert {m.label for m in hits} == {"PERSON"}


def test_rows_match_schemas(mentions):
    ents = entity_rows("a1", mentions)
    table = pa.Table.from_pylist(ents, schema=ENTITIES)
    assert table.num_rows == len({(m.name, m.label) for m in mentions})
    feld = next(r for r in ents if r["name"] == "Omar T. Feld")
    assert feld["mentions"] == 3
    assert feld["surface_forms"] == ["Feld", "Omar Feld", "Omar T. Feld"]
    assert feld["first_start"] == ARTICLE.index("Omar T. Feld")
    rows = mention_rows("a1", mentions)
    assert pa.Table.from_pylist(rows, schema=MENTIONS).num_rows == len(mentions)
    assert all(r["article_id"] == "a1" for r in rows)


def test_empty_and_odd_docs(nlp):
    assert link_entities(nlp("")) == []
    assert entity_rows("x", []) == []
    for text in ["(NTA)", "( )", "'s", "Mr.", "The The The", "\u200b\n\t"]:
        for m in link_entities(nlp(text)):
            assert m.name


def test_bracketed_and_undefined_acronyms(nlp):
    doc = nlp("The World Health Organization (WHO) warned of measles in Kenya. "
              "A WHO spokesman said the European Union would help. The EU sent vaccines.")
    ms = link_entities(doc)
    assert {m.name for m in ms if m.text == "WHO"} == {"World Health Organization"}
    assert not any("(" in m.text or ")" in m.text for m in ms)
    assert {m.name for m in ms if m.text == "EU"} == {"European Union"}


def test_lowercase_modifiers_trimmed(nlp):
    doc = nlp("Officials at the state Department of Transportation said the bridge was safe.")
    assert "Department of Transportation" in {m.name for m in link_entities(doc)}


# ---- issue 14: canonical names and labels the model gets wrong -----------------------
def _forced(nlp, text: str, labels: dict[str, str]):
    """The real parse of ``text`` with the model's entities replaced by ``labels``
    (surface -> label, every occurrence not inside a longer one): the model's mistakes,
    made on purpose."""
    doc = nlp(text)
    spans, taken = [], set()
    for surface, label in sorted(labels.items(), key=lambda kv: -len(kv[0])):
        start = 0
        while (at := text.find(surface, start)) >= 0:
            start = at + len(surface)
            if not taken & set(range(at, start)):
                spans.append(doc.char_span(at, start, label=label))
                taken |= set(range(at, start))
    doc.ents = sorted(spans, key=lambda s: s.start)
    return doc


FORCED_CASES = {
    # the model's label, forced on every occurrence -> (canonical name, label) expected
    "place_tagged_person_is_gpe": (
        "Protesters gathered in Kharkiv on Sunday. Kharkiv has seen such rallies before.",
        {"Kharkiv": "PERSON"}, {("Kharkiv", "Kharkiv", "GPE")}),
    "place_name_with_title_stays_person": (
        "Sen. Jordan said the bill would pass. Jordan voted for it.",
        {"Jordan": "PERSON"}, {("Jordan", "Jordan", "PERSON")}),
    "calendar_word_is_no_entity": (
        "The deal was announced in October by Lena Falk.",
        {"October": "PERSON", "Lena Falk": "PERSON"}, {("Lena Falk", "Lena Falk", "PERSON")}),
    "place_tagged_org_after_in_is_gpe": (
        "The author grew up in Durban and studied in Durban.",
        {"Durban": "ORG"}, {("Durban", "Durban", "GPE")}),
    "surname_tagged_org_is_the_senator": (
        "Sen. Tom Rivers spoke on Monday. Rivers called the news a disgrace.",
        {"Tom Rivers": "PERSON", "Rivers": "ORG"},
        {("Tom Rivers", "Tom Rivers", "PERSON"), ("Rivers", "Tom Rivers", "PERSON")}),
    "full_name_tagged_org_with_lone_surname_is_person": (
        "Marcelo Voss chairs the board. Voss said the cuts would start soon.",
        {"Marcelo Voss": "ORG", "Voss": "ORG"},
        {("Marcelo Voss", "Marcelo Voss", "PERSON"), ("Voss", "Marcelo Voss", "PERSON")}),
    "company_named_like_a_person_stays_org": (
        "Morgan Stanley raised its forecast. Stanley Hall, an analyst, agreed.",
        {"Morgan Stanley": "ORG", "Stanley Hall": "PERSON"},
        {("Morgan Stanley", "Morgan Stanley", "ORG"), ("Stanley Hall", "Stanley Hall", "PERSON")}),
    "first_name_tagged_org_is_the_minister": (
        "Communications Minister Fahmi Fadzil spoke today. Fahmi said the firms paid.",
        {"Fahmi Fadzil": "PERSON", "Fahmi": "ORG"},
        {("Fahmi Fadzil", "Fahmi Fadzil", "PERSON"), ("Fahmi", "Fahmi Fadzil", "PERSON")}),
    "possessive_span_is_two_names": (
        "Officials of Vietnam's Communist Party met the envoy. Vietnam said it would reply.",
        {"Vietnam's Communist Party": "ORG", "Vietnam": "GPE"},
        {("Vietnam", "Vietnam", "GPE"), ("Communist Party", "Communist Party", "ORG")}),
    "title_with_possessive_stays_one_name": (
        "The star of Dawson's Creek left the show.", {"Dawson's Creek": "ORG"},
        {("Dawson's Creek", "Dawson's Creek", "ORG")}),
    "dotted_acronym_links_to_its_long_form": (
        "The United States and China met. U.S. officials left early.",
        {"United States": "GPE", "U.S.": "GPE", "China": "GPE"},
        {("United States", "United States", "GPE"), ("U.S.", "United States", "GPE"),
         ("China", "China", "GPE")}),
}


# ---- issue 14 (entity labels): article-level evidence over the model's label ---------
LABEL_CASES = {
    # glued mentions split at commas and at lower-case words that are no name particle
    "comma_list_is_several_people": (
        "Harlow, Penrose and Lister won. Kate Harlow and Jodie Penrose played well.",
        {"Harlow, Penrose": "ORG", "Kate Harlow": "PERSON", "Jodie Penrose": "PERSON",
         "Lister": "PERSON"},
        {("Harlow", "Kate Harlow", "PERSON"), ("Penrose", "Jodie Penrose", "PERSON"),
         ("Lister", "Lister", "PERSON"), ("Kate Harlow", "Kate Harlow", "PERSON"),
         ("Jodie Penrose", "Jodie Penrose", "PERSON")}),
    "verb_inside_a_span_splits_it": (
        "Mason Reid and Cole Baxter fought. Baxter hit Reid in the head.",
        {"Mason Reid": "PERSON", "Cole Baxter": "PERSON", "Baxter hit Reid": "ORG"},
        {("Mason Reid", "Mason Reid", "PERSON"), ("Cole Baxter", "Cole Baxter", "PERSON"),
         ("Baxter", "Cole Baxter", "PERSON"), ("Reid", "Mason Reid", "PERSON")}),
    "trailing_common_noun_is_not_part_of_the_place": (
        "Troops left the southern Kandahar province on Monday.",
        {"Kandahar province": "GPE"}, {("Kandahar", "Kandahar", "GPE")}),
    "hyphenated_given_name_keeps_its_tail": (
        "Leung Kai-man, the district commander, said the crowd was calm.",
        {"Leung Kai-man": "PERSON"}, {("Leung Kai-man", "Leung Kai-man", "PERSON")}),
    "lower_case_word_is_no_name": (
        "The share who reported using meth rose, Dana Quill said.",
        {"meth": "GPE", "Dana Quill": "PERSON"}, {("Dana Quill", "Dana Quill", "PERSON")}),
    "titles_alone_are_no_name": (
        "The spokesperson, Rear Admiral Dan Holt, said the plan failed.",
        {"Rear Admiral": "ORG", "Dan Holt": "PERSON"}, {("Dan Holt", "Dan Holt", "PERSON")}),
    "quoted_title_is_a_work_not_a_person": (
        "The service offers classic films, including “Lucy Marlowe” and more.",
        {"Lucy Marlowe": "PERSON"}, {("Lucy Marlowe", "Lucy Marlowe", "WORK_OF_ART")}),
    # a one-word "person" the article shows is not one
    "team_after_the_is_an_org": (
        "The Ravens spent Monday at home. Coach Bell said the Ravens would recover.",
        {"Ravens": "PERSON", "Bell": "PERSON"},
        {("Ravens", "Ravens", "ORG"), ("Bell", "Bell", "PERSON")}),
    "platform_is_an_org": (
        "The slogan drew ridicule across Twitter on Monday. Some Twitter users laughed.",
        {"Twitter": "PERSON"}, {("Twitter", "Twitter", "ORG")}),
    "said_it_is_an_org": (
        "Zentrix said it would respond shortly to a request for comment.",
        {"Zentrix": "PERSON"}, {("Zentrix", "Zentrix", "ORG")}),
    "listed_among_companies_is_an_org": (
        "The trip invited companies such as Korvalt to take part.",
        {"Korvalt": "PERSON"}, {("Korvalt", "Korvalt", "ORG")}),
    "camel_case_name_is_an_org": (
        "After all, BrightLoop has been surging in recent years.",
        {"BrightLoop": "PERSON"}, {("BrightLoop", "BrightLoop", "ORG")}),
    "surname_before_administration_stays_person": (
        "The group sued the Trump administration over the pipeline.",
        {"Trump": "PERSON"}, {("Trump", "Trump", "PERSON")}),
    "surname_speaking_stays_person": (
        "Reyes, 42, said the vote was fair. Critics disagreed with Reyes.",
        {"Reyes": "PERSON"}, {("Reyes", "Reyes", "PERSON")}),
    "party_after_the_and_an_adjective_is_an_org": (
        "The vote split the nationalist Sinn Féin over the plan.",
        {"Sinn Féin": "PERSON"}, {("Sinn Féin", "Sinn Féin", "ORG")}),
    "rapper_after_the_stays_person": (
        "Stars like the rapper Lil Vane were fined.",
        {"Lil Vane": "PERSON"}, {("Lil Vane", "Lil Vane", "PERSON")}),
    # places the gazetteer knows, read as places in the sentence
    "town_after_from_is_a_gpe": (
        "Author Jane Pell, from Hermanus, spoke about her first novel.",
        {"Jane Pell": "PERSON", "Hermanus": "ORG"},
        {("Jane Pell", "Jane Pell", "PERSON"), ("Hermanus", "Hermanus", "GPE")}),
    "unknown_place_after_from_is_a_gpe": (
        "Kelly Marsh, from Zandvlei, said the event went well.",
        {"Kelly Marsh": "PERSON", "Zandvlei": "PERSON"},
        {("Kelly Marsh", "Kelly Marsh", "PERSON"), ("Zandvlei", "Zandvlei", "GPE")}),
    "city_qualifying_a_noun_is_a_gpe": (
        "Problems hit the Burbank entertainment giant last week.",
        {"Burbank": "ORG"}, {("Burbank", "Burbank", "GPE")}),
    "small_town_qualifying_a_noun_stays_org": (
        "Some White House advisers want a deal.",
        {"White House": "ORG"}, {("White House", "White House", "ORG")}),
    "dateline_in_capitals_is_the_city": (
        "HALDEN, Ore. — Voters met on Tuesday. Patrick Dunn spoke in Halden.",
        {"HALDEN": "ORG", "Halden": "GPE", "Patrick Dunn": "PERSON", "Ore.": "GPE"},
        {("HALDEN", "Halden", "GPE"), ("Halden", "Halden", "GPE"), ("Ore.", "Ore", "GPE"),
         ("Patrick Dunn", "Patrick Dunn", "PERSON")}),
    # a role noun before a name the model tagged ORG; an organisation's noun before one
    # it tagged PERSON
    "host_before_name_is_a_person": (
        "It linked the case to Fox News host Dana Quill’s remarks.",
        {"Fox News": "ORG", "Dana Quill’s": "ORG"},
        {("Fox News", "Fox News", "ORG"), ("Dana Quill", "Dana Quill", "PERSON")}),
    "newspaper_before_name_is_an_org": (
        "The revelations came from the newspaper Dagens Blad on Monday.",
        {"Dagens Blad": "PERSON"}, {("Dagens Blad", "Dagens Blad", "ORG")}),
    "club_named_after_a_city_is_an_org": (
        "He was sacked by Leeds United in May.",
        {"Leeds United": "PERSON"}, {("Leeds United", "Leeds United", "ORG")}),
    "strip_named_after_a_city_stays_a_gpe": (
        "Aid reached the Gaza Strip on Monday.",
        {"Gaza Strip": "GPE"}, {("Gaza Strip", "Gaza Strip", "GPE")}),
    "word_the_article_writes_in_lower_case_is_no_name": (
        "The new Search box changes things. Your search results stay the same.",
        {"Search": "ORG"}, set()),
    # a "GPE" no gazetteer knows, treated as an organisation
    "unknown_place_listed_with_orgs_is_an_org": (
        "It made acquisitions, including Marvel Entertainment, Zentara and BamTech.",
        {"Marvel Entertainment": "ORG", "Zentara": "GPE", "BamTech": "ORG"},
        {("Marvel Entertainment", "Marvel Entertainment", "ORG"),
         ("Zentara", "Zentara", "ORG"), ("BamTech", "BamTech", "ORG")}),
    "unknown_place_as_a_medium_is_an_org": (
        "They spent the weekend watching the show on Streamly.",
        {"Streamly": "GPE"}, {("Streamly", "Streamly", "ORG")}),
    "unknown_place_before_a_role_is_the_employer": (
        "In a report, Quarrier analyst Tom Hale said the margin fell.",
        {"Quarrier": "GPE", "Tom Hale": "PERSON"},
        {("Quarrier", "Quarrier", "ORG"), ("Tom Hale", "Tom Hale", "PERSON")}),
    # acronyms defined in brackets
    "acronym_leaves_out_a_leading_qualifier": (
        "Leeds Regional Flood Centre (RFC) staff met. The RFC said rain would come.",
        {"Leeds Regional Flood Centre": "ORG", "RFC": "ORG"},
        {("Leeds Regional Flood Centre", "Leeds Regional Flood Centre", "ORG"),
         ("RFC", "Leeds Regional Flood Centre", "ORG")}),
    "acronym_long_form_cut_by_the_model": (
        "The Kent County Audit Office (KCAO) is investigating. The KCAO declined to comment.",
        {"Kent County": "GPE", "KCAO": "ORG"},
        {("Kent County Audit Office", "Kent County Audit Office", "ORG"),
         ("KCAO", "Kent County Audit Office", "ORG")}),
    "acronym_before_its_long_form": (
        "She heads Kora (Kent Office for Research and Analysis), a think tank.",
        {"Kora (Kent Office for Research and Analysis": "ORG"},
        {("Kora", "Kent Office for Research and Analysis", "ORG"),
         ("Kent Office for Research and Analysis", "Kent Office for Research and Analysis",
          "ORG")}),
    "role_before_a_name_tagged_org_links_its_surname": (
        "He shoved quarterback Mason Reid to the ground. Reid should be disciplined.",
        {"Mason Reid": "ORG", "Reid": "PERSON"},
        {("Mason Reid", "Mason Reid", "PERSON"), ("Reid", "Mason Reid", "PERSON")}),
    "team_and_position_code_before_a_name_split_off": (
        "Ravens DL Cole Baxter, however, decided to weigh in.",
        {"Ravens DL Cole Baxter": "PERSON"},
        {("Ravens", "Ravens", "ORG"), ("Cole Baxter", "Cole Baxter", "PERSON")}),
    "one_word_person_listed_with_orgs_is_an_org": (
        "The Ravens, the Colts and Hornets were in the news for a different reason.",
        {"Ravens": "ORG", "Colts": "ORG", "Hornets": "PERSON"},
        {("Ravens", "Ravens", "ORG"), ("Colts", "Colts", "ORG"), ("Hornets", "Hornets", "ORG")}),
    "place_listed_with_one_org_stays_a_gpe": (
        "The EU and Britain signed the deal.",
        {"EU": "ORG", "Britain": "GPE"}, {("EU", "EU", "ORG"), ("Britain", "Britain", "GPE")}),
    "first_name_outvoted_stays_org": (
        "Chelsea have delivered a message. Chelsea lost at home. Now Chelsea know.",
        {"Chelsea": "ORG"}, {("Chelsea", "Chelsea", "ORG")}),
    "capitals_are_no_first_name": (
        "He was hauled out by the UK police. The US wants the UK to extradite him.",
        {"UK": "GPE", "US": "GPE"}, {("UK", "UK", "GPE"), ("US", "US", "GPE")}),
    "org_short_form_not_for_a_product": (
        "Apple TV gets a new look. Apple said the update ships today.",
        {"Apple TV": "ORG", "Apple": "ORG"},
        {("Apple TV", "Apple TV", "ORG"), ("Apple", "Apple", "ORG")}),
    "surname_qualifying_a_noun_after_the_stays_person": (
        "Unlike the Nixon impeachment, this one moved fast.",
        {"Nixon": "PERSON"}, {("Nixon", "Nixon", "PERSON")}),
    "demonym_is_no_person_nor_place": (
        "The average Montanan views the plan as toxic, Dana Quill said.",
        {"Montanan": "PERSON", "Dana Quill": "PERSON"},
        {("Montanan", "Montanan", "NORP"), ("Dana Quill", "Dana Quill", "PERSON")}),
    "two_spellings_of_a_city_are_one_city": (
        "Kiev is far away. Protests spread in Kyiv and Lviv.",
        {"Kiev": "PERSON", "Kyiv": "GPE", "Lviv": "GPE"},
        {("Kiev", "Kyiv", "GPE"), ("Kyiv", "Kyiv", "GPE"), ("Lviv", "Lviv", "GPE")}),
    "law_named_like_an_org_is_a_law": (
        "Officials violated the Political Funds Control Act, Dana Quill said.",
        {"Political Funds Control Act": "ORG", "Dana Quill": "PERSON"},
        {("Political Funds Control Act", "Political Funds Control Act", "LAW"),
         ("Dana Quill", "Dana Quill", "PERSON")}),
    "comma_list_closed_by_and_is_one_name": (
        "A spokesperson for Housing, Infrastructure and Communities Canada declined.",
        {"Housing, Infrastructure and Communities Canada": "ORG"},
        {("Housing, Infrastructure and Communities Canada",
          "Housing, Infrastructure and Communities Canada", "ORG")}),
    # an organisation named again by the first words of its full name
    "org_short_form_links_to_long_form": (
        "Vantor Group Corp cut 300 jobs. Vantor agreed to inject $2 billion.",
        {"Vantor Group Corp": "ORG", "Vantor": "ORG"},
        {("Vantor Group Corp", "Vantor Group Corp", "ORG"),
         ("Vantor", "Vantor Group Corp", "ORG")}),
}




@pytest.mark.parametrize("text,forced,expected", [*FORCED_CASES.values(), *LABEL_CASES.values()],
                         ids=[*FORCED_CASES, *LABEL_CASES])
def test_label_vote_and_linking_fix_model_errors(nlp, text, forced, expected):
    doc = _forced(nlp, text, forced)
    assert {(m.text, m.name, m.label) for m in link_entities(doc)} == expected


def test_hyphenated_first_name_is_one_person(nlp):
    doc = nlp("Anna-Karin Lund chairs the committee. Lund said the vote would wait. "
              "Karin Berg disagreed. Mr. Lund left early.")
    assert {m.name for m in link_entities(doc) if m.text == "Lund"} == {"Anna-Karin Lund"}


def test_gazetteer_alternate_names_are_spellings_not_jokes():
    from transforms.nlp.lexicon import is_place, is_town
    assert is_place("Kiev") and is_place("Kyiv") and is_place("Khan Younis")
    # GeoNames lists these as alternate names of Topeka, Casablanca, Hamm, Trondheim
    assert not any(is_place(n) for n in ("Google", "White House", "Hamas", "TRD"))
    assert is_town("Hermanus") and not is_place("Hermanus")


def test_first_name_before_a_lone_surname_makes_the_full_name(nlp):
    text = "Rumours say Zelensky may fire Oleksandr Halyk soon. Halyk had blocked reforms."
    doc = nlp(text)
    at = text.rindex("Halyk")
    doc.ents = [doc.char_span(at, at + len("Halyk"), label="PERSON")]
    got = {(m.text, m.name, m.label) for m in link_entities(doc)}
    assert got == {("Oleksandr Halyk", "Oleksandr Halyk", "PERSON"),
                   ("Halyk", "Oleksandr Halyk", "PERSON")}
