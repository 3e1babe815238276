"""Listening to a section, and larger text, in a real browser on a narrow phone.

Listen is tested against the speech API's events: a stub ``speechSynthesis`` put in the page before its
scripts records what is spoken, in which language, by which voice and at which speed, and fires ``start``,
``pause``, ``resume`` and ``end`` as a browser does; the test says when each piece ends.
"""

from __future__ import annotations

import json

import pytest

from council.accounts.models import Role, User
from council.extensions import db
from council.policies import service as policies
from tests.browser.support import SCREENS, phone, serving, sign_in

pytestmark = pytest.mark.browser

WIDTH = 360
LONG = " ".join(f"Sentence number {n} says that staff keep what you tell them private." for n in range(1, 13))
ORIGINAL = f"""Opening words.

## Describing what happened

{LONG}

Staff listen without pushing for detail.

## Records

We write little.
"""
ARABIC = (
    ORIGINAL.replace("Opening words.", "كلمات البداية.")
    .replace("## Describing what happened", "## وصف ما حدث")
    .replace(LONG, "يستمع الموظفون دون ضغط. يحفظون ما تقوله.")
    .replace("Staff listen without pushing for detail.", "يمكنك طلب استراحة.")
    .replace("## Records", "## السجلات")
    .replace("We write little.", "نكتب القليل.")
)

#: The stub: voices given by the test; every utterance recorded; the test ends each one (``__end()``).
STUB = """
(() => {
  const voices = VOICES;
  const spoken = [];
  window.__spoken = spoken;
  window.__calls = [];
  let current = null;
  class Utterance extends EventTarget {
    constructor(text) { super(); this.text = text; this.lang = ""; this.rate = 1; this.voice = null; }
  }
  const fire = (utterance, type) => utterance.dispatchEvent(new Event(type));
  class Synth extends EventTarget {
    getVoices() { return voices; }
    speak(utterance) {
      spoken.push({text: utterance.text, lang: utterance.lang, rate: utterance.rate,
                   voice: utterance.voice && utterance.voice.name});
      current = utterance;
      setTimeout(() => fire(utterance, "start"), 0);
    }
    pause() { window.__calls.push("pause"); if (current) { setTimeout(() => fire(current, "pause"), 0); } }
    resume() { window.__calls.push("resume"); if (current) { setTimeout(() => fire(current, "resume"), 0); } }
    cancel() {
      window.__calls.push("cancel");
      const stopped = current;
      current = null;
      if (stopped) { fire(stopped, "end"); }
    }
  }
  window.__end = () => { const done = current; current = null; if (done) { fire(done, "end"); } };
  window.__speaking = () => current !== null;
  Object.defineProperty(window, "speechSynthesis", {value: new Synth(), configurable: true});
  window.SpeechSynthesisUtterance = Utterance;
})();
"""


def _voice(name, lang, *, local=True, default=False):
    return {"name": name, "lang": lang, "localService": local, "default": default, "voiceURI": name}


@pytest.fixture
def site(app_factory, people):
    app = app_factory()
    people.app = app
    author_id = people.make("robin", Role.AUTHOR, pseudonym="Robin")
    people.make("willow", Role.ADVISOR, pseudonym="Willow")
    with app.app_context():
        author = db.session.get(User, author_id)
        policy = policies.create_policy(db.session, author, title="First contact", body=ORIGINAL)
        revision = policy.revisions[0]
        noted = revision.sections[1].key
        policies.update_section_notes(
            db.session, revision, noted, summary="Staff do not push.", content_note="", questions=[]
        )
        policies.publish(db.session, revision)
        policies.save_translation(db.session, revision, author, locale="ar", title="الاتصال الأول", body=ARABIC)
        db.session.commit()
        base_path = f"/policies/{policy.id}/revisions/{revision.number}/sections/"
        keys = {"noted": noted, "records": revision.sections[2].key}
    with serving(app) as base_url:
        yield {"base": base_url, "sections": {name: base_url + base_path + key for name, key in keys.items()}}


def _page(chromium, site, *, voices=None, locale="en", javascript=True, width=WIDTH):
    context = phone(chromium, site["base"], locale=locale, width=width, height=740, javascript=javascript)
    page = context.new_page()
    if voices is not None:
        page.add_init_script(STUB.replace("VOICES", json.dumps(voices)))
    sign_in(page, site["base"], "willow")
    return context, page


def _spoken(page):
    return page.evaluate("window.__spoken")


def _listen_to_the_end(page):
    """End every piece as it is spoken, until none is left."""
    for _piece in range(100):
        if not page.evaluate("window.__speaking()"):
            return
        page.evaluate("window.__end()")
        page.wait_for_timeout(20)
    raise AssertionError("Listen never finished")


def _no_sideways_scroll(page, width=WIDTH):
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_listen_reads_the_section_in_english_with_pause_speed_and_stop(chromium, site):
    from playwright.sync_api import expect

    voices = [_voice("Far away", "en-US", local=False, default=True), _voice("Here", "en-GB")]
    context, page = _page(chromium, site, voices=voices)
    page.goto(site["sections"]["noted"])
    listen = page.locator(".listen [data-listen-play]")
    stop = page.locator(".listen [data-listen-stop]")
    status = page.locator(".listen [role=status]")
    expect(listen).to_have_text("Listen")
    expect(listen).to_be_enabled()
    expect(stop).to_be_hidden()
    expect(page.get_by_label("Speed")).to_have_value("1")
    _no_sideways_scroll(page)

    # Keyboard: the button is reached and pressed like any other.
    listen.focus()
    page.keyboard.press("Enter")
    expect(status).to_have_text("Reading aloud.")
    expect(listen).to_have_text("Pause")
    expect(stop).to_be_visible()
    first = _spoken(page)[0]
    # The heading first, in the text's language, by this device's own voice, never the one on a server.
    assert first == {"text": "Describing what happened", "lang": "en", "rate": 1, "voice": "Here"}

    page.evaluate("window.__end()")
    page.wait_for_function("window.__spoken.length === 2")
    listen.click()
    expect(status).to_have_text("Paused.")
    expect(listen).to_have_text("Resume")
    listen.click()
    expect(status).to_have_text("Reading aloud.")
    expect(listen).to_have_text("Pause")
    assert page.evaluate("window.__calls").count("pause") == 1
    assert page.evaluate("window.__calls").count("resume") == 1

    # A new speed starts the piece being read again at once.
    page.get_by_label("Speed").select_option("1.5")
    page.wait_for_function("window.__spoken.length === 3")
    again, faster = _spoken(page)[1:3]
    assert again["text"] == faster["text"] and faster["rate"] == 1.5

    _listen_to_the_end(page)
    texts = [piece["text"] for piece in _spoken(page)]
    # "In short" is shown, the full text folded: what is shown is what is read.
    assert "Staff do not push." in texts
    assert not any("Sentence number" in text for text in texts)
    expect(listen).to_have_text("Listen")
    expect(stop).to_be_hidden()
    expect(status).to_have_text("")

    # Opening the full text: it is read too, the long paragraph in pieces a browser does not cut short.
    page.locator("details.full-text > summary").click()
    listen.click()
    _listen_to_the_end(page)
    pieces = [piece["text"] for piece in _spoken(page)[len(texts) :]]
    long_pieces = [text for text in pieces if "Sentence number" in text]
    assert len(long_pieces) > 1 and all(len(text) <= 200 for text in pieces)
    assert " ".join(long_pieces) == LONG
    assert "Staff listen without pushing for detail." in pieces

    # Stop: silence at once, and the focus goes back to Listen.
    listen.click()
    stop.focus()
    page.keyboard.press("Enter")
    expect(listen).to_have_text("Listen")
    expect(listen).to_be_focused()
    assert not page.evaluate("window.__speaking()")
    _no_sideways_scroll(page)
    context.close()


def test_listen_reads_the_arabic_text_with_an_arabic_voice_right_to_left(chromium, site):
    from playwright.sync_api import expect

    voices = [_voice("English", "en-US", default=True), _voice("Arabic", "ar-SA")]
    context, page = _page(chromium, site, voices=voices, locale="ar")
    page.goto(site["sections"]["records"])
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    listen = page.locator(".listen [data-listen-play]")
    expect(listen).to_have_text("استمع")
    expect(page.locator(".listen")).to_have_attribute("lang", "ar")
    _no_sideways_scroll(page)
    listen.click()
    expect(page.locator(".listen [role=status]")).to_have_text("تجري القراءة بصوت عالٍ.")
    page.screenshot(path=str(SCREENS / "issue-23-listen-ar-360.png"), full_page=True)
    _listen_to_the_end(page)
    assert _spoken(page) == [
        {"text": "السجلات", "lang": "ar", "rate": 1, "voice": "Arabic"},
        {"text": "نكتب القليل.", "lang": "ar", "rate": 1, "voice": "Arabic"},
    ]
    expect(listen).to_have_text("استمع")
    _no_sideways_scroll(page)
    context.close()


def test_with_no_voice_of_this_device_for_the_language_the_button_says_so(chromium, site):
    from playwright.sync_api import expect

    # An English voice on a server would send the text away: it does not count.
    voices = [_voice("French", "fr-FR", default=True), _voice("Far away", "en-US", local=False)]
    context, page = _page(chromium, site, voices=voices)
    page.goto(site["sections"]["records"])
    listen = page.locator(".listen [data-listen-play]")
    expect(listen).to_have_text("No voice for this language on this device")
    expect(listen).to_be_disabled()
    expect(page.get_by_label("Speed")).to_be_hidden()
    assert _spoken(page) == []
    _no_sideways_scroll(page)
    context.close()


def test_without_javascript_there_is_no_listen_control_and_the_section_reads_as_before(chromium, site):
    from playwright.sync_api import expect

    context, page = _page(chromium, site, javascript=False)
    page.goto(site["sections"]["noted"])
    expect(page.locator("h1")).to_have_text("Describing what happened")
    expect(page.locator(".in-short")).to_contain_text("Staff do not push.")
    expect(page.get_by_role("button", name="Listen")).to_have_count(0)
    expect(page.locator(".listen")).to_have_count(0)
    page.locator("details.full-text > summary").click()
    expect(page.locator("details.full-text")).to_contain_text("Sentence number 12")
    _no_sideways_scroll(page)
    context.close()


def test_larger_text_and_higher_contrast_at_320_px_without_sideways_scroll(chromium, site):
    from playwright.sync_api import expect

    context, page = _page(chromium, site, javascript=False, width=320)
    root_size = "getComputedStyle(document.documentElement).fontSize"
    assert page.evaluate(root_size) == "16px"
    page.goto(site["base"] + "/account")
    page.locator("input[name=text_size][value=larger]").check()
    page.locator("input[name=contrast][value=higher]").check()
    page.locator("form[action$='/account/preferences'] button[type=submit]").click()
    expect(page.locator(".flash")).to_contain_text("Your preferences are saved.")
    for path in ("/account", "/", "/policies/", "/stipends", "/stipends/printable", "/safety"):
        page.goto(site["base"] + path)
        expect(page.locator("html")).to_have_class("text-larger contrast-higher")
        assert page.evaluate(root_size) == "20px"
        assert page.evaluate("getComputedStyle(document.body).color") == "rgb(0, 0, 0)"
        _no_sideways_scroll(page, 320)
    page.goto(site["sections"]["noted"])
    _no_sideways_scroll(page, 320)
    # The printable statement, printed: larger still.
    page.goto(site["base"] + "/stipends/printable")
    page.emulate_media(media="print")
    assert page.evaluate(root_size) == "20px"
    context.close()
