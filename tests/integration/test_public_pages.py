import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from cloudcodes.extensions import db as _db
from cloudcodes.program.services import update_program_terms
from cloudcodes.program.terms import VolumeTier
from cloudcodes.public.models import FaqEntry

PAGES = ["/", "/faq", "/program", "/contact"]


@pytest.mark.parametrize("path", PAGES)
def test_public_pages_render_with_the_shared_layout(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="en"' in html
    assert 'href="#main"' in html  # skip link
    assert 'id="main"' in html
    assert len(re.findall(r"<h1[\s>]", html)) == 1
    assert "<footer" in html
    assert "/static/vendor/bootstrap/bootstrap.min.css" in html


@pytest.mark.parametrize("path", PAGES)
def test_pages_load_nothing_from_other_sites(client, path):
    html = client.get(path).get_data(as_text=True)
    assert not re.search(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', html)


@pytest.mark.parametrize("path", ["vendor/bootstrap/bootstrap.min.css", "vendor/bootstrap/bootstrap.bundle.min.js"])
def test_vendored_bootstrap_is_served(client, path):
    with client.get(f"/static/{path}") as response:
        assert response.status_code == 200
        assert len(response.data) > 10_000


def test_program_page_compares_both_levels_with_their_margins(client):
    html = client.get("/program").get_data(as_text=True)
    assert "Reseller" in html and "Premier" in html
    assert re.search(r'data-level="reseller" data-row="margin">15 %<', html)
    assert re.search(r'data-level="premier" data-row="margin">30 %<', html)
    for row in ("Revenue commitment", "Sales staff trained", "Joint business plan", "Volume discount", "Requirements"):
        assert row in html
    assert "$25,000.00" in html
    assert "100+ seats: +2" in html and "500+ seats: +5" in html


def test_changing_the_premier_margin_setting_changes_the_program_page(app, client):
    with app.app_context():
        update_program_terms(premier_margin_pct=Decimal("32"))
    html = client.get("/program").get_data(as_text=True)
    assert re.search(r'data-level="premier" data-row="margin">32 %<', html)
    assert "30 %" not in html


def test_faq_lists_the_program_questions_in_order_with_anchors(client):
    html = client.get("/faq").get_data(as_text=True)
    anchors = re.findall(r'<section class="faq-entry mb-4" id="([a-z0-9-]+)"', html)
    assert anchors[0] == "what-is-the-program"
    assert anchors[-1] == "more-information"
    assert {"levels", "mid-year-upgrade", "annual-qualification", "premier-requirements"} <= set(anchors)
    for anchor in anchors:
        assert f'href="#{anchor}"' in html
    assert "first day of the next month" in html
    assert "partners@cloudcodes.example" in html


def test_faq_follows_the_order_staff_give_and_hides_unpublished_answers(app, client):
    with app.app_context():
        _db.session.add(FaqEntry(slug="first", question="Asked first?", answer_markdown="Yes.", position=1))
        _db.session.add(
            FaqEntry(slug="draft", question="Draft question?", answer_markdown="Not yet.", position=2, published=False)
        )
        _db.session.commit()
    html = client.get("/faq").get_data(as_text=True)
    assert html.index('id="first"') < html.index('id="what-is-the-program"')
    assert "Draft question?" not in html


def test_faq_answers_quote_the_live_settings_and_cannot_inject_html(app, client):
    with app.app_context():
        update_program_terms(reseller_margin_pct=Decimal("17.5"))
        _db.session.add(
            FaqEntry(slug="unsafe", question="Unsafe?", answer_markdown="<script>alert(1)</script> **ok**", position=5)
        )
        _db.session.commit()
    html = client.get("/faq").get_data(as_text=True)
    assert "partner margin of 17.5 %" in html
    assert "<script>alert(1)</script>" not in html
    assert "<strong>ok</strong>" in html


def test_contact_page_shows_the_contact_address_setting(app, client):
    with app.app_context():
        update_program_terms(contact_email="channel@cloudcodes.example")
    html = client.get("/contact").get_data(as_text=True)
    assert 'href="mailto:channel@cloudcodes.example"' in html


def test_home_page_calls_visitors_to_the_program(client):
    html = client.get("/").get_data(as_text=True)
    assert "15 %" in html and "30 %" in html
    assert 'href="/program"' in html


def _main(html: str) -> str:
    """The page's own content, without the layout's header and footer."""
    return html[html.index('id="main"') : html.index("<footer")]


def test_the_faq_gives_its_last_answer_once(app, client):
    main = _main(client.get("/faq").get_data(as_text=True))
    assert main.count("Write to the partner team at partners@cloudcodes.example") == 1
    assert main.count("partners@cloudcodes.example") == 1  # no box below repeating the last answer
    assert 'class="alert alert-info' not in main
    with app.app_context():  # a FAQ that no longer ends with the contact address gets the box instead
        _db.session.scalar(select(FaqEntry).where(FaqEntry.slug == "more-information")).published = False
        _db.session.commit()
    main = _main(client.get("/faq").get_data(as_text=True))
    assert "Write to the partner team" not in main
    assert 'More questions? Write to <a href="mailto:partners@cloudcodes.example">' in main
    assert main.count("partners@cloudcodes.example") == 2  # the link's address and its text


def _max_margin(client) -> str:
    html = client.get("/").get_data(as_text=True)
    return " ".join(re.search(r'data-term="max-margin">([^<]+)<', html).group(1).split())


def test_the_home_page_gives_the_maximum_margin_of_the_terms(app, client):
    html = " ".join(client.get("/").get_data(as_text=True).split())
    assert _max_margin(client) == "35 %"  # 30 % Premier margin plus 5 points at 500+ seats
    assert "up to 30 %" not in html
    assert "(the 30 % Premier margin plus 5 extra margin points on a purchase of 500 seats or more)" in html
    with app.app_context():
        update_program_terms(
            premier_margin_pct=Decimal("32"),
            volume_tiers=(
                VolumeTier(100, Decimal("2")),
                VolumeTier(250, Decimal("7.5")),
                VolumeTier(1000, Decimal("4")),
            ),
        )
    assert _max_margin(client) == "39.5 %"
    assert "plus 7.5 extra margin points on a purchase of 250 seats or more" in " ".join(
        client.get("/").get_data(as_text=True).split()
    )
    with app.app_context():
        update_program_terms(volume_tiers=())
    html = " ".join(client.get("/").get_data(as_text=True).split())
    assert _max_margin(client) == "32 %"
    assert "extra margin points" not in html


def test_unknown_page_is_a_styled_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Not Found" in html and "home page" in html and "<footer" in html


def test_wrong_method_is_a_styled_405_with_allow_header(client):
    response = client.post("/faq")
    assert response.status_code in (400, 405)  # CSRF runs first on POST
    response = client.put("/faq")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "Method Not Allowed" in response.get_data(as_text=True)


def test_an_error_in_a_page_is_a_styled_500(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaput")

    response = client.get("/boom")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "nothing was saved" in html and "kaput" not in html


def test_page_query_budgets_do_not_grow_with_the_faq(app, client, count_queries):
    client.get("/faq")  # the process reads the terms and the FAQ once; later requests only check their versions
    with count_queries() as few:
        client.get("/faq")
    with app.app_context():
        _db.session.add_all(
            FaqEntry(slug=f"extra-{n}", question=f"Extra {n}?", answer_markdown="Answer.", position=100 + n)
            for n in range(40)
        )
        _db.session.commit()
    with count_queries() as changed:
        assert client.get("/faq").status_code == 200
    with count_queries() as many:
        assert client.get("/faq").status_code == 200
    assert changed.count == 2  # the versions (the FAQ's moved), the published answers (rendered when saved)
    assert many.count == few.count == 1  # the versions
    with count_queries() as program:
        client.get("/program")
    assert program.count == 1
