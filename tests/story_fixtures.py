"""Invented articles (written for these tests) for the story-clustering tests."""
from __future__ import annotations

FERRY = [
    "The Harbor Transit Authority voted on Tuesday to replace its four diesel ferries with "
    "battery-electric boats by 2029, a move officials said would cut the agency's fuel bill by "
    "almost half and end decades of complaints about fumes at the downtown terminal.",
    "The board approved the plan by a vote of six to one after a three-hour public hearing at "
    "which dozens of commuters, dock workers and residents of the waterfront neighbourhoods spoke.",
    "“We have talked about clean ferries for fifteen years,” said board chair Miriam Okafor. "
    "“Tonight we stopped talking and started buying.”",
    "The new vessels will be built by a shipyard in the northern port of Kellsby, which won the "
    "contract over two foreign bidders. Each boat will carry up to 400 passengers and 30 cars.",
    "Charging stations will be installed at both ends of the crossing, and the authority expects "
    "a full charge to take about eleven minutes, short enough to fit inside the normal turnaround.",
    "Critics on the board questioned whether the batteries would hold up during the winter storms "
    "that regularly shut the crossing, and asked what would happen if the yard fell behind schedule.",
    "Transit director Paul Lindqvist said the contract included penalties for late delivery and "
    "that the old diesel boats would stay in reserve until every electric ferry had passed its trials.",
    "The authority will hold a second hearing next month on a proposal to raise the adult fare "
    "by fifty cents to help pay for the terminal upgrades.",
]

ORCHARD = [
    "A late frost that swept through the valley over the weekend destroyed as much as a third of "
    "this year's apple blossoms, growers said on Monday, raising fears of a short harvest.",
    "Temperatures fell to minus four degrees before dawn on Saturday, colder than forecasters had "
    "predicted, and stayed below freezing for nearly six hours in the lower orchards.",
    "Growers ran wind machines and lit heaters through the night, but many said the cold settled "
    "too quickly for the equipment to make a difference on the lowest slopes.",
    "“You walk the rows in the morning and the blossoms are brown inside,” said Dolores Vance, "
    "whose family has farmed the same hillside for four generations. “There is nothing to do but wait.”",
    "The regional growers' cooperative said it would survey members this week before estimating the "
    "loss, and asked the agriculture ministry to open its emergency loan programme early.",
    "Cherry and pear growers reported lighter damage, because most of their trees had already "
    "finished flowering before the cold arrived.",
    "Economists at the state university said a poor apple crop would push up prices at local "
    "markets by autumn, although imports were likely to limit the rise in supermarkets.",
]

LIBRARY = [
    "The city library will open its main branch around the clock during the final two weeks of the "
    "school year, the library board announced, after students petitioned for more places to study.",
    "The pilot will cost about 80,000 dollars, mostly for extra security staff and cleaning, and "
    "will be paid from a donation left to the library by a retired schoolteacher.",
    "Librarians said the reading rooms on the second floor would remain quiet zones, while the "
    "ground floor would allow group work and the café would stay open until midnight.",
    "Student council president Aaron Mbeki, who collected more than two thousand signatures, said "
    "many of his classmates share small apartments and have nowhere calm to revise at night.",
    "The board said it would publish figures on how many people used the building overnight and "
    "decide in the autumn whether to repeat the experiment during the winter examination period.",
    "Neighbours raised concerns at the meeting about noise and parking on the narrow streets behind "
    "the branch, and the board agreed to close the rear car park after ten in the evening.",
]

HARBOR_FESTIVAL = [
    "Organisers of the summer harbour festival said on Wednesday that this year's event would move "
    "from the old fish market to the new waterfront park, which opened in the spring.",
    "The festival, which drew about 40,000 visitors last year, will run over three days in August "
    "and feature a sailing regatta, food stalls from twenty local restaurants and an evening concert.",
    "Volunteers are still needed for the information tents and the children's boat-building "
    "workshop, and residents can sign up on the festival's website until the end of June.",
    "Police said the main road along the harbour would be closed to traffic on the Saturday night "
    "and advised visitors to come by bus or by the extra ferry sailings the authority has promised.",
    "Local shop owners welcomed the move, saying the park would bring visitors closer to the "
    "high street than the fish market ever did.",
]


def write_page(folder, name: str, paras: list[str], site: int, published, title: str) -> None:
    """One invented article as an HTML page in one of the syndication site templates."""
    import random

    from evaluation.syndication import page

    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.html").write_text(
        page(title, paras, site, name, published, random.Random(site)), encoding="utf-8")


def write_syndicated(folder) -> None:
    """An original, two edited copies on other sites, a trap (the original's first two
    paragraphs, then another story) and a singleton."""
    import datetime as dt
    import random

    from evaluation.syndication import (add_credit_line, add_dateline, change_quotes,
                                        cut_last_paragraph, insert_ad)

    rng, d = random.Random(5), dt.date
    write_page(folder, "ferry-original", FERRY, 0, d(2026, 4, 7), "Harbor board votes for electric ferries")
    write_page(folder, "ferry-copy1", cut_last_paragraph(add_dateline(FERRY, rng), rng), 1,
               d(2026, 4, 8), "Electric ferries approved")
    write_page(folder, "ferry-copy2", change_quotes(insert_ad(add_credit_line(FERRY, rng), rng), rng),
               2, d(2026, 4, 7), "Ferry fleet to go electric by 2029")
    write_page(folder, "ferry-trap", FERRY[:2] + HARBOR_FESTIVAL, 3, d(2026, 4, 7), "Harbour festival moves")
    write_page(folder, "orchard", ORCHARD, 4, d(2026, 4, 9), "Frost destroys apple blossoms")
