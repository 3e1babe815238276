""" "Is this working?" on a phone, right to left (issue 22): an author asks the council, an advisor answers without
JavaScript, and everyone reads the demo's closed evaluation from the policy's history."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from council.demo_content import SECOND_POLICY_TITLE
from council.extensions import db
from council.policies.models import Policy
from tests.browser.support import SCREENS, no_sideways_scroll
from tests.browser.test_home import _signed_in

pytestmark = pytest.mark.browser


@pytest.fixture
def site(app, demo_site):
    with app.app_context():
        main = db.session.scalar(select(Policy.id).where(Policy.title == "First contact and referrals"))
        second = db.session.scalar(select(Policy.id).where(Policy.title == SECOND_POLICY_TITLE))
    return demo_site, f"/policies/{main}", f"/policies/{second}"


def test_everyone_reads_what_the_council_said_from_the_history(chromium, site):
    from playwright.sync_api import expect

    base, main, _second = site
    context, page = _signed_in(chromium, base, "advisor1", "ar")
    page.goto(base + main + "/history")
    page.get_by_role("link", name="هل هي ناجحة؟ تقييم المجلس").click()
    expect(page.locator("h1")).to_have_text("هل هذا ناجح؟")
    expect(page.get_by_text("أجاب 6 أشخاص.")).to_be_visible()
    whole = page.locator("section", has=page.get_by_role("heading", name="السياسة كلها"))
    expect(whole.locator("table tbody tr")).to_have_count(5)
    expect(whole.locator("tr", has_text="ينجح جيدًا").locator("td").nth(1)).to_have_text("1")
    expect(whole).to_contain_text("أشعر أن السياسة تُطبَّق أكثر من قبل")
    expect(page.locator("main form")).to_have_count(0)  # closed: nothing to send
    no_sideways_scroll(page)
    page.screenshot(path=str(SCREENS / "issue-22-evaluation-ar-320.png"), full_page=True)
    context.close()


def test_an_author_asks_and_an_advisor_answers_without_javascript(chromium, site):
    from playwright.sync_api import expect

    base, _main, second = site
    context, page = _signed_in(chromium, base, "author", "ar", javascript=False)
    page.goto(base + second + "/commitments")
    page.get_by_role("button", name="اسأل المجلس الآن").click()
    expect(page.locator(".flash")).to_contain_text("سُئل المجلس")
    evaluation = page.url
    context.close()

    context, page = _signed_in(chromium, base, "advisor2", "ar", javascript=False)
    page.goto(base + "/notices")
    page.get_by_role("link", name=f"حان موعد مراجعة سياسة. هل هي ناجحة؟ {SECOND_POLICY_TITLE}").click()
    assert page.url == evaluation
    whole = page.locator("section.card", has=page.get_by_role("heading", name="السياسة كلها"))
    whole.get_by_label("ينجح في معظمه").check()
    whole.get_by_label("ما تريد قوله عن ذلك (اختياري)").fill("الدفع نقدًا أسهل لي.")
    page.get_by_role("button", name="أرسل إجاباتي").click()
    expect(page.locator(".error-message")).to_contain_text("يُرجى اختيار اللغة التي كتبت بها")
    whole = page.locator("section.card", has=page.get_by_role("heading", name="السياسة كلها"))
    expect(whole.get_by_label("ينجح في معظمه")).to_be_checked()  # what was chosen and written comes back
    expect(whole.get_by_label("ما تريد قوله عن ذلك (اختياري)")).to_have_value("الدفع نقدًا أسهل لي.")
    page.get_by_label("لغة ما كتبته").select_option("ar")
    page.get_by_role("button", name="أرسل إجاباتي").click()
    expect(page.locator(".flash")).to_contain_text("شكرًا. إجاباتك مختومة")
    expect(page.locator("p.notice[role=status]")).to_contain_text("إجاباتك تنتظر أن تُحسب")
    no_sideways_scroll(page)
    context.close()


def test_a_coordinator_reads_how_rounds_went_and_an_advisor_answers_a_check_in(chromium, site):
    from playwright.sync_api import expect

    base, _main, second = site
    context, page = _signed_in(chromium, base, "coordinator", "ar", javascript=False)
    page.get_by_role("link", name="كيف كانت الجولات بالنسبة للمستشارين").click()
    expect(page.get_by_text("حُسبت جولة واحدة.")).to_be_visible()
    time = page.locator("section", has=page.get_by_role("heading", name="هل كان الوقت كافيًا للقراءة والإجابة؟"))
    expect(time.locator("tr", has_text="في الغالب").locator("td").nth(1)).to_have_text("3")
    change = page.locator("section", has=page.get_by_role("heading", name="ما الذي يجب أن يتغير في طريقة عمل المجلس؟"))
    change.get_by_text("3 إجابات مكتوبة").click()
    expect(page.locator("blockquote", has_text="Payer plus vite après la réunion.")).to_be_visible()
    no_sideways_scroll(page)
    page.screenshot(path=str(SCREENS / "issue-22-checkins-ar-320.png"), full_page=True)
    context.close()

    context, page = _signed_in(chromium, base, "advisor3", "ar", javascript=False)
    page.goto(base + second + "/revisions/1")
    page.get_by_role("link", name="كيف كانت هذه الجولة بالنسبة لك؟ أخبرنا دون ذكر اسمك").click()
    expect(page.locator("h1")).to_have_text("كيف كانت هذه الجولة بالنسبة لك؟")
    pay = page.locator("section.card", has=page.get_by_role("heading", name="هل كانت المكافأة عادلة مقابل العمل؟"))
    pay.get_by_label("جزئيًا").check()
    page.get_by_role("button", name="أرسل إجاباتي").click()
    expect(page.locator(".flash")).to_contain_text("شكرًا. إجاباتك مختومة")
    no_sideways_scroll(page)
    context.close()
