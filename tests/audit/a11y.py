"""Accessibility: axe-core in Debian's Chromium, on every page, in English and in Arabic.

axe.min.js is added to each page before the page's own scripts run (an init script, which the
page's Content-Security-Policy does not apply to), then ``axe.run`` checks the whole document with
axe's default rules (WCAG 2.0-2.2 A and AA and best practices). A violation of impact "serious" or
"critical" is a finding; "moderate" and "minor" are notes. English is checked at a desktop size,
Arabic (right to left) at a phone's, where target sizes and reflow matter most.
"""

from __future__ import annotations

from pathlib import Path

from tests.audit import tools
from tests.audit.results import Result
from tests.browser.support import CHROMIUM, CHROMIUM_ARGS

FAILING_IMPACTS = {"serious", "critical"}
VIEWPORTS = {"en": {"width": 1280, "height": 900}, "ar": {"width": 390, "height": 844}}
#: Every page fits the narrowest phone: nothing wider than 320 px, so nothing scrolls sideways (a table may scroll
#: inside its own box). And at 360 px the header, quick exit included, leaves the page room: under 120 px.
NARROW = {"width": 320, "height": 640}
PHONE = {"width": 360, "height": 740}
HEADER_MOST = 120

#: The document's width and, when it is too wide, the outermost elements that stick out (at most three).
_WIDTH = """() => {
  const width = document.documentElement.scrollWidth;
  if (width <= innerWidth) return [width, []];
  // Inside a box that scrolls or clips, or a closed disclosure, an element makes no page scroll sideways.
  const contained = el => {
    for (let box = el.parentElement; box && box !== document.body; box = box.parentElement) {
      if (box.matches("details:not([open])") && !el.closest("summary")) return true;
      if (getComputedStyle(box).overflowX !== "visible") return true;
    }
    return false;
  };
  const out = [...document.body.querySelectorAll("*")].filter(el => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && (box.right > innerWidth + 1 || box.left < -1) && !contained(el);
  });
  const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.classList.length ? "." + [...el.classList].join(".") : "") +
    " (" + Math.round(el.getBoundingClientRect().width) + " px)";
  return [width, out.filter(el => !out.includes(el.parentElement)).slice(0, 3).map(name)];
}"""
#: From the top of the page to the bottom of the site header: the quick exit's bar and the header.
_HEADER = "() => { const h = document.querySelector('.site-header'); return h ? h.getBoundingClientRect().bottom : 0; }"


def _keep_traffic_local(context, base_url: str) -> None:
    def route(request_route):
        if request_route.request.url.startswith(base_url + "/"):
            return request_route.continue_()
        return request_route.abort()

    context.route("**/*", route)


def _check(page, url: str, expected_status: int, html: str | None) -> tuple[dict | None, str]:
    if html is not None:
        # The answer to a form post: shown as it was answered, with the site's own stylesheet and script.
        def answer(request_route):
            request_route.fulfill(status=expected_status, content_type="text/html; charset=utf-8", body=html)

        page.route(url, answer)
    try:
        response = page.goto(url, wait_until="load", timeout=60_000)
        if response is None or response.status != expected_status:
            return None, f"answered {response.status if response else 'nothing'} in the browser"
        return page.evaluate("options => axe.run(document, options)", {"resultTypes": ["violations"]}), ""
    finally:
        if html is not None:
            page.unroute(url)


def _fits_a_phone(tab, viewport: dict, shot: Path | None) -> list[str]:
    """What does not fit on a phone: too wide at 320 px, a header too tall at 360 px (then back to ``viewport``).
    ``shot``: where to keep a picture of the page at 320 px, for people to look at."""
    problems = []
    try:
        tab.set_viewport_size(NARROW)
        if shot is not None:
            tab.screenshot(path=str(shot))
        width, sticking_out = tab.evaluate(_WIDTH)
        if width > NARROW["width"]:
            problems.append(f"{width} px wide at 320 px: {', '.join(sticking_out) or '?'}")
        tab.set_viewport_size(PHONE)
        header = tab.evaluate(_HEADER)
        if header >= HEADER_MOST:
            problems.append(f"the header ends {round(header)} px down at 360 px (at most {HEADER_MOST})")
    finally:
        tab.set_viewport_size(viewport)
    return problems


def _picture_name(report: Path, lang: str, visitor: str, where: str) -> Path | None:
    """Arabic pages are kept as pictures at 320 px (``phone/``, listed in ``phone/index.txt``): right to left on the
    narrowest phone is where a layout breaks first."""
    if lang != "ar":
        return None
    folder = report / "phone"
    index = folder / "index.txt"
    number = len(index.read_text().splitlines()) if index.exists() else 0
    shot = folder / f"{lang}-{visitor.replace(' ', '-')}-{number:03}.png"
    with index.open("a") as listed:
        listed.write(f"{shot.name}  {where}\n")
    return shot


def check(server, visits, pages, lang: str, result: Result, report: Path, phone: Result) -> None:
    """Add the violations on ``pages`` (in ``lang``) to ``result``, and what does not fit a phone to ``phone``."""
    from playwright.sync_api import sync_playwright

    source = tools.axe_source()
    (report / "phone").mkdir(exist_ok=True)
    by_visitor: dict[str, list] = {}
    for page in pages:
        by_visitor.setdefault(page.visitor, []).append(page)
    lines = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            for visit in visits:
                context = browser.new_context(
                    ignore_https_errors=True, viewport=VIEWPORTS[lang], locale=lang, service_workers="block"
                )
                _keep_traffic_local(context, server.base_url)
                context.add_cookies(_cookies(visit, server.base_url))
                context.add_init_script(source)
                tab = context.new_page()
                for page in by_visitor.get(visit.visitor, []):
                    outcome, problem = _check(
                        tab, server.base_url + page.path, page.status, page.html if page.posted else None
                    )
                    where = f"[{lang}] {page.label}"
                    if outcome is None:
                        result.findings.append(f"{where}: {problem}")
                        continue
                    shot = _picture_name(report, lang, visit.visitor, where)
                    phone.findings += [f"{where}: {problem}" for problem in _fits_a_phone(tab, VIEWPORTS[lang], shot)]
                    for violation in outcome["violations"]:
                        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
                        line = (
                            f"{where}: {violation['id']} ({violation['impact']}) {violation['help']}; "
                            f"{len(targets)} element(s), e.g. {targets[0] if targets else '?'}"
                        )
                        lines.append(
                            line
                            + "\n    "
                            + "\n    ".join(
                                f"{target}: {node.get('failureSummary', '').replace(chr(10), ' ')}"
                                for target, node in zip(targets, violation["nodes"], strict=True)
                            )
                        )
                        (result.findings if violation["impact"] in FAILING_IMPACTS else result.notes).append(line)
                context.close()
        finally:
            browser.close()
    with (report / "axe-details.txt").open("a") as details:
        details.write("\n".join(lines) + ("\n" if lines else ""))


def _cookies(visit, base_url: str) -> list[dict]:
    return [
        {
            "name": cookie.name,
            "value": cookie.value,
            "url": base_url + "/",
            "secure": True,
            "httpOnly": True,
            "sameSite": "Lax",
        }
        for cookie in visit.session.cookies
    ]
