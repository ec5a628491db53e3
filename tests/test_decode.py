"""Charset handling: header, meta declaration, detection, GBK as GB18030."""
from transforms.formats.decode import decode_html, normalise_charset

CYRILLIC = "Правительство объявило новый бюджет города на следующий год. " * 5
CHINESE = "北京市政府今天宣布了新的交通计划，预计投资二百亿元。镕" * 3  # 镕 is not in GB2312


def page(body: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body><p>{body}</p></body></html>"


def test_http_header_charset_wins():
    raw = page(CYRILLIC).encode("cp1251")
    text, encoding = decode_html(raw, http_charset="windows-1251")
    assert encoding == "cp1251" and CYRILLIC in text


def test_meta_charset_is_read():
    raw = page(CYRILLIC, '<meta charset="windows-1251">').encode("cp1251")
    text, encoding = decode_html(raw)
    assert encoding == "cp1251" and CYRILLIC in text


def test_http_equiv_declaration_is_read():
    raw = page("Café crème, déjà vu", '<meta http-equiv="Content-Type" '
               'content="text/html; charset=iso-8859-1">').encode("latin-1")
    text, encoding = decode_html(raw)
    assert "Café crème, déjà vu" in text and encoding == "cp1252"


def test_gb2312_label_is_read_as_gb18030():
    raw = page(CHINESE, '<meta charset="gb2312">').encode("gb18030")
    text, encoding = decode_html(raw)
    assert encoding == "gb18030" and CHINESE in text


def test_undeclared_cyrillic_is_detected():
    raw = page(CYRILLIC).encode("cp1251")
    text, _ = decode_html(raw)
    assert CYRILLIC in text


def test_wrong_declaration_falls_back_to_detection():
    raw = page(CYRILLIC, '<meta charset="utf-8">').encode("cp1251")
    text, encoding = decode_html(raw)
    assert encoding != "utf-8" and CYRILLIC in text


def test_bom_and_unknown_labels():
    text, encoding = decode_html("\ufeff<p>Hello</p>".encode("utf-8"), http_charset="bogus")
    assert text.startswith("<p>Hello") and encoding == "utf-8-sig"
    assert normalise_charset("no-such-charset") is None
    assert normalise_charset("GBK") == "gb18030"


# Western text in windows-1252 with no declaration: charset detection alone calls
# these cp1250 or mac_latin2; a browser reads them as windows-1252, and so do we.
WESTERN = {
    "en": "The café’s owner said the crème brûlée cost €5 — “too much”, said Zoë. ",
    "de": "Der Bürgermeister erklärte, die Straße werde für 5 Millionen Euro saniert. ",
    "it": "Il sindaco ha dichiarato che la città spenderà più di 5 milioni. È così. ",
}


def test_undeclared_windows_1252_is_not_read_as_cp1250():
    for sentence in WESTERN.values():
        for repeat in (1, 5):
            raw = page(sentence * repeat).encode("cp1252")
            text, encoding = decode_html(raw)
            assert encoding == "cp1252" and sentence * repeat in text


def test_undeclared_cp1250_that_is_no_windows_1252_stays_cp1250():
    czech = "Starosta řekl, že oprava bude stát pět milionů. Ťuk, žluťoučký kůň úpěl ďábelské ódy. "
    raw = page(czech * 3).encode("cp1250")
    assert b"\x9d" in raw  # "ť": a byte windows-1252 does not define
    text, encoding = decode_html(raw)
    assert encoding == "cp1250" and czech in text
