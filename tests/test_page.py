"""Page cleaning (transforms.formats.page) with real trafilatura, on invented HTML."""
from __future__ import annotations

from transforms.formats.page import drop_hover_cards, extract

BODY = ("<p>The council met on Tuesday to discuss the new bus routes for the northern "
        "districts, which residents have asked for since the old depot closed.</p>")
HOVER = ("<p>Mayor <span class=\"rollover-people\"><a href=\"/people/ellen-marsh\">Ellen "
         "Marsh</a><span class=\"rollover-people-block\"><span class=\"rollover-block\">"
         "<img src=\"/marsh.jpg\"><a class=\"name\" href=\"/people/ellen-marsh\">Ellen Ruth "
         "Marsh</a><a href=\"/a/1\">Mayor wins second term</a> <a href=\"/a/2\">Budget vote "
         "delayed</a></span></span></span> said the routes would open in May, and that the "
         "depot site would become a park for the families who live nearby.</p>")


def _page(*paragraphs: str) -> str:
    return ("<html><head><title>Routes</title></head><body><article>"
            + "".join(paragraphs) + "</article></body></html>")


def test_hover_card_text_is_not_glued_to_the_name():
    text = extract(_page(BODY, HOVER), None)["text"]
    assert "Mayor Ellen Marsh said the routes would open in May" in text
    assert "Ellen Ruth Marsh" not in text and "second term" not in text


def test_pages_without_widgets_are_passed_through_unparsed():
    html = _page(BODY, BODY.replace("Tuesday", "Friday"))
    assert drop_hover_cards(html) is html


def test_a_tooltip_class_outside_paragraphs_is_left_alone():
    nav = ("<nav><div class=\"tooltipbox\"><a href=\"/x\">Markets</a>"
           "<a href=\"/y\">Personal finance</a></div></nav>")
    tree = drop_hover_cards(_page(nav, BODY))
    assert tree.find(".//div[@class='tooltipbox']") is not None


def test_widget_class_names_are_matched_whatever_their_case():
    html = _page(BODY, HOVER.replace("rollover-people-block", "RollOver-People-Block"))
    text = extract(html, None)["text"]
    assert "Mayor Ellen Marsh said the routes would open in May" in text
    assert "Ellen Ruth Marsh" not in text
