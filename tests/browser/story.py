#!/usr/bin/env python3
"""bnb's web app played through as people use it, in a real (headless) Chromium.

A host registers a room; a guest finds it and books two stays (and is declined on a third, and
told in plain words when payment is busy); the host's dashboard shows the stays without a reload;
the guest cancels one and hears of the refund; a second guest, on a phone, is told the other
stay's nights are taken, then switches to Korean and books the freed nights; the host meets a
stale edit and deletes the room, then registers another; a third guest signs in and books it with
the keyboard only; bnb-local restarts on the same data folder 40 days later (`--days-ahead`), and
that guest reviews the finished stay.

Checked on every screen shot along the way: every control has an accessible name, text keeps
WCAG contrast (4.5:1; 3:1 for large text), and html[lang] follows the language shown. Every
request any page makes goes to bnb-local (the Cognito stand-in is answered inside the page), and
no file under web/ names another host.

Starts its own `bnb-local up` (BNB_LOCAL_BIN, default target/debug/bnb-local; BNB_TEMPLATE,
default template.yaml) on a free 127.0.0.1 port with a temporary data folder, and always stops
it. Screenshots go to tests/browser/screenshots/. Exits non-zero on the first failure.

    python3 -m venv /tmp/pwvenv && /tmp/pwvenv/bin/pip install playwright==1.63.0
    BNB_LOCAL_BIN=target/debug/bnb-local /tmp/pwvenv/bin/python tests/browser/story.py
"""
import base64
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(__file__).resolve().with_name("screenshots")
TIMEOUT = 15_000  # every wait is bounded by this (ms)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`bnb-local up` on its own data folder and port, 1 s queue retries. `restart(*args)` stops it
    and starts it again over the same data folder and port (so pages keep their origin), with
    extra `up` arguments such as `--days-ahead 40`."""

    def __init__(self):
        binary = Path(os.environ.get("BNB_LOCAL_BIN", "target/debug/bnb-local"))
        self.binary = binary if binary.is_absolute() else ROOT / binary
        if not self.binary.exists():
            raise SystemExit(f"no bnb-local at {self.binary}: build it (cargo build -p bnb-local) or set BNB_LOCAL_BIN")
        self.data = Path(tempfile.mkdtemp(prefix="bnb-browser-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = self.log = None

    def start(self, *extra):
        self.log = open(self.data / "server.log", "a")
        self.proc = subprocess.Popen(
            [str(self.binary), "--data-dir", str(self.data / "store"), "--template", os.environ.get("BNB_TEMPLATE", str(ROOT / "template.yaml")), "up",
             "--port", str(self.port), "--web", str(ROOT / "web"), "--visibility-timeout", "1", *extra],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + TIMEOUT / 1000
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bnb-local exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/config.json", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"bnb-local did not answer within {TIMEOUT // 1000} s:\n{self.tail()}")
            time.sleep(0.1)  # a poll's pace, bounded by the deadline above

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None
        self.log.close()

    def restart(self, *extra):
        self.stop()
        return self.start(*extra)

    def tail(self, lines=40):
        if self.log and not self.log.closed:
            self.log.flush()
        text = re.sub(r"\x1b\[[0-9;]*m", "", (self.data / "server.log").read_text(errors="replace"))
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            shutil.rmtree(self.data, ignore_errors=True)
            raise

    def __exit__(self, *exc):
        self.stop()
        if exc[0] is not None:
            print(f"--- bnb-local log (last lines) ---\n{self.tail()}", file=sys.stderr)
        shutil.rmtree(self.data, ignore_errors=True)


def en_day(d):  # as the app writes a date in English: "Thu, Dec 10"
    return f"{d:%a}, {d:%b} {d.day}"


def cognito_sign_in(page, base, answered, check):
    """The hosted-UI flow against a stand-in for Cognito (routes in the page; nothing leaves the
    machine). Every request the stand-in answers is added to `answered`; `check(page, screen)`
    audits the app's screens on the way."""
    domain, seen = "https://auth.bnb.test", {}
    config = {"signIn": "cognito", "apiBase": "", "cognitoDomain": domain, "clientId": "client-1", "redirectUri": f"{base}/"}

    def stand_in(url, handler):
        def answer(r):
            answered.add(r.request.url)
            handler(r)
        page.route(url, answer)

    stand_in("**/config.json", lambda r: r.fulfill(json=config))

    def authorize(route):
        q = parse_qs(urlparse(route.request.url).query)
        seen.update({k: v[0] for k, v in q.items()})
        assert seen["code_challenge_method"] == "S256" and seen["client_id"] == "client-1", seen
        route.fulfill(status=302, headers={"location": f"{base}/?code=the-code&state={seen['state']}"})

    def token(route):
        form = parse_qs(route.request.post_data)
        challenge = lambda v: base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).rstrip(b"=").decode()
        groups = ["guest"]
        if form["grant_type"] == ["refresh_token"]:  # after "become a host": the pool's groups now
            assert form["refresh_token"] == ["r"], form
            groups.append("host")
        else:
            assert form["grant_type"] == ["authorization_code"] and form["code"] == ["the-code"], form
            assert challenge(form["code_verifier"][0]) == seen["code_challenge"], "the PKCE verifier does not match its challenge"
        claims = {"sub": "u-1", "cognito:username": "sora", "cognito:groups": groups, "aud": "client-1", "exp": int(time.time()) + 3600}
        part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
        route.fulfill(json={"id_token": f"{part({'alg': 'none'})}.{part(claims)}.x", "access_token": "a", "refresh_token": "r", "expires_in": 3600})

    stand_in(f"{domain}/oauth2/authorize*", authorize)
    stand_in(f"{domain}/oauth2/token", token)
    stand_in(f"{domain}/logout*", lambda r: r.fulfill(body="signed out at the stand-in"))
    page.goto(f"{base}/#/search?city=Seoul")
    page.get_by_test_id("sign-in-link").click()
    expect(page.get_by_role("button", name="Sign in with your bnb account")).to_be_visible()
    check(page, "cognito-sign-in")
    page.get_by_role("button", name="Sign in with your bnb account").click()
    expect(page.locator("#flash")).to_contain_text("Signed in as sora")
    expect(page.get_by_test_id("who")).to_have_text("sora")
    check(page, "cognito-signed-in")
    assert "code=" not in page.url and page.url.endswith("#/search?city=Seoul"), page.url
    groups = page.evaluate("import('./auth.js').then((m) => m.refresh()).then((s) => s.groups)")
    assert groups == ["guest", "host"], groups
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{domain}/logout*")
    assert parse_qs(urlparse(page.url).query)["logout_uri"] == [f"{base}/"], page.url


# Run in the page on every screen shot: (a) the controls with no accessible name, (c) the text
# whose colour does not keep WCAG contrast (4.5:1; 3:1 for large bold text) on the background it
# is painted on, and the language of the words shown (for (d) html[lang]).
AUDIT_JS = r"""() => {
  const text = (el) => (el?.textContent || '').replace(/\s+/g, ' ').trim();
  const describe = (el) => `<${el.tagName.toLowerCase()}${el.id ? ` id=${el.id}` : ''}${el.name ? ` name=${el.name}` : ''}`
    + `${el.dataset.testid ? ` data-testid=${el.dataset.testid}` : ''}${el.className && typeof el.className === 'string' ? ` class="${el.className}"` : ''}> "${text(el).slice(0, 40)}"`;
  // (a) The accessible name, as the accessible-name computation finds it for these elements.
  const nameOf = (el) => {
    const by = el.getAttribute('aria-labelledby');
    const named = by && by.split(/\s+/).map((id) => text(document.getElementById(id))).join(' ').trim();
    if (named) return named;
    if ((el.getAttribute('aria-label') || '').trim()) return el.getAttribute('aria-label').trim();
    const labels = [...(el.labels || [])].map(text).join(' ').trim();
    if (labels) return labels;
    if (el.tagName === 'BUTTON' && text(el)) return text(el);
    if (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type) && el.value) return el.value;
    return (el.getAttribute('title') || '').trim();
  };
  const unnamed = [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')].filter((el) => !nameOf(el)).map(describe);

  // (c) Contrast: each visible element with text of its own, and each text field.
  const rgba = (c) => {
    const m = /^rgba?\(([^)]*)\)$/.exec(c.trim());
    if (!m) return null;
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map((v) => (v.endsWith('%') ? parseFloat(v) / 100 : Number(v)));
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, below) => [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3])).concat(1);
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c === null) return null;
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    return layers.reduceRight((below, top) => over(top, below), [255, 255, 255, 1]);
  };
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const kind = (el) => (el.closest('#flash') ? 'flash box'
    : el.closest('.error') ? 'error box'
      : el.closest('.answer') ? 'answer box'
        : el.closest('button, .button') ? 'button'
          : el.closest('a') ? 'link'
            : el.matches('input, select, textarea') ? 'text field'
              : el.closest('.muted, .lead, .empty, .who') ? 'muted text'
                : el.closest('main') ? 'main text' : 'other text');
  const poor = [];
  const seen = {};
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('svg, option, script, style')) continue;
    const field = el.matches('input:not([type=checkbox]):not([type=radio]):not([type=hidden]), select, textarea');
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!field && !own) continue;
    if (el.closest(':disabled, [aria-disabled=true]')) continue; // WCAG exempts inactive controls
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1 || box.bottom + scrollY <= 0 || box.right + scrollX <= 0) continue;
    if (!el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
    const st = getComputedStyle(el);
    const fg = rgba(st.color);
    const bg = background(el);
    if (!fg || !bg) { poor.push(`${describe(el)}: colour not readable (${st.color})`); continue; }
    const size = parseFloat(st.fontSize);
    const large = size >= 18.66 && Number(st.fontWeight) >= 700; // 3:1 only for large bold text (stricter than WCAG's 24px regular)
    const r = ratio(over(fg, bg), bg);
    const k = kind(el);
    seen[k] = (seen[k] || 0) + 1;
    if (r < (large ? 3 : 4.5)) poor.push(`${k} ${describe(el)}: ${r.toFixed(2)}:1 (${st.color} on rgb(${bg.slice(0, 3).map(Math.round)}), ${size}px/${st.fontWeight})`);
  }
  return { unnamed, poor, seen, lang: document.documentElement.lang, nav: text(document.getElementById('nav')) };
}"""

# The element that has keyboard focus, and whether the focus can be seen (an outline or a box
# shadow, the outline keeping 3:1 against the page behind it).
FOCUS_JS = r"""() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const st = getComputedStyle(el);
  const outline = st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) > 0;
  const shadow = st.boxShadow && st.boxShadow !== 'none';
  const rgb = (c) => (/rgba?\(([^)]*)\)/.exec(c) || [0, '0 0 0'])[1].split(/[\s,/]+/).filter(Boolean).slice(0, 3).map(Number);
  const lum = (c) => c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }).reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  let behind = [255, 255, 255];
  for (let e = el.parentElement; e; e = e.parentElement) {
    const c = getComputedStyle(e).backgroundColor;
    if (c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') { behind = rgb(c); break; }
  }
  const [x, y] = [lum(rgb(st.outlineColor)), lum(behind)].sort((p, q) => q - p);
  const name = el.getAttribute('aria-label') || [...(el.labels || [])].map((l) => l.textContent).join(' ') || el.textContent;
  return { element: `<${el.tagName.toLowerCase()}> "${(name || '').replace(/\s+/g, ' ').trim().slice(0, 40)}"`,
    visible: outline ? (x + 0.05) / (y + 0.05) >= 3 : !!shadow, outline: `${st.outlineStyle} ${st.outlineWidth} ${st.outlineColor}`, shadow: st.boxShadow };
}"""

A11Y_KINDS = {"main text", "muted text", "link", "button", "flash box", "error box", "text field"}


def audit(page, screen, seen):
    """Fails naming every control with no accessible name, every text below WCAG contrast, and an
    html[lang] that is not the language the words are in."""
    found = page.evaluate(AUDIT_JS)
    assert not found["unnamed"], f"{screen}: controls with no accessible name: {found['unnamed']}"
    assert not found["poor"], f"{screen}: text below WCAG contrast: {found['poor']}"
    shown = "ko" if re.search("[가-힣]", found["nav"]) else "en"
    assert found["lang"] == shown, f"{screen}: html[lang] is {found['lang']!r} but the words are {shown!r}"
    # The browser's own accessibility tree agrees: no control there is without a name.
    tree = page.locator("body").aria_snapshot()
    bare = [line.strip() for line in tree.splitlines()
            if re.match(r"^\s*- (button|textbox|combobox|checkbox|radio|spinbutton|searchbox|link)( \[[^\]]*\])*:?$", line)]
    assert not bare, f"{screen}: the accessibility tree has controls with no name: {bare}"
    for k, n in found["seen"].items():
        seen[k] = seen.get(k, 0) + n


def press(page, key):
    """A key that moves focus; the focus it lands on must be visible."""
    page.keyboard.press(key)
    focus = page.evaluate(FOCUS_JS)
    assert focus and focus["visible"], f"after {key}, the focus cannot be seen: {focus}"
    return focus


def tab_to(page, target, back=False, limit=30):
    """Tab (or Shift+Tab) until `target` has focus, every stop visibly focused."""
    expect(target).to_be_visible()
    for _ in range(limit):
        press(page, "Shift+Tab" if back else "Tab")
        if target.evaluate("(el) => el === document.activeElement"):
            return
    raise AssertionError(f"{limit} presses of {'Shift+Tab' if back else 'Tab'} did not reach {target}")


# Absolute URLs in the web app's files (XML namespace names are names, never fetched).
URL = re.compile(r"https?://[A-Za-z0-9.-]+[^\s'\"`)]*")
NAMESPACES = {"http://www.w3.org/2000/svg"}
# Toss Payments' widget SDK, which Toss serves only from its own host; the app loads it only on a
# deployment with PaymentProvider=toss (tests/browser/pay_with_toss.py plays that one).
TOSS_SDK = "https://js.tosspayments.com/v2/standard"


def foreign_urls(web):
    """Every http(s) URL to another host in web/, comments left out."""
    found = []
    for f in sorted(p for p in web.rglob("*") if p.is_file()):
        text = f.read_text(errors="replace")
        if f.suffix in (".js", ".css"):
            text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
            text = re.sub(r"(?m)(^|[^:\\])//.*$", r"\1", text)
        elif f.suffix == ".html":
            text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
        found += [f"{f.relative_to(web)}: {u}" for u in URL.findall(text) if u not in NAMESPACES and u != TOSS_SDK]
    return found


def main():
    SHOTS.mkdir(exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    today = dt.datetime.now(ZoneInfo("Asia/Seoul")).date()
    stay_a = (today + dt.timedelta(days=5), today + dt.timedelta(days=7))
    stay_b = (today + dt.timedelta(days=10), today + dt.timedelta(days=12))
    stay_c = (today + dt.timedelta(days=14), today + dt.timedelta(days=15))
    stay_d = (today + dt.timedelta(days=20), today + dt.timedelta(days=22))  # booked with the keyboard, reviewed later
    days_ahead = 40  # the restarted system's clock: every stay above has ended by then
    assert all(s[1] < today + dt.timedelta(days=days_ahead) for s in (stay_a, stay_b, stay_c, stay_d))
    nights = lambda s: [s[0] + dt.timedelta(days=i) for i in range((s[1] - s[0]).days)]
    iso = dt.date.isoformat
    title, loft = "Hanok by the palace", "Loft by the river"
    passed, pages = [], {}
    requests, answered, looked = [], set(), {}  # every page request; those the Cognito stand-in answered; audit counts
    expect.set_options(timeout=TIMEOUT)

    with Server() as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), headless=True, args=CHROMIUM_ARGS)
        errors = []

        def person(name, viewport=DESKTOP, locale="en-US"):
            ctx = browser.new_context(viewport=viewport, locale=locale, timezone_id="Asia/Seoul")
            ctx.set_default_timeout(TIMEOUT)
            ctx.on("request", lambda r: requests.append((name, r.url)))
            page = ctx.new_page()
            page.on("pageerror", lambda e: errors.append(f"{name}: {e}"))
            pages[name] = page
            return page

        def leave(name):
            pages.pop(name).context.close()

        def check(page, screen):
            """The accessibility audit of the screen shown (on every screenshot, and a few more)."""
            audit(page, screen, looked)
            check.screens.add(screen)
        check.screens = set()

        def shot(page, name):
            """A numbered screenshot of the whole page, and the audit of what it shows."""
            shot.n = getattr(shot, "n", 0) + 1
            page.screenshot(path=str(SHOTS / f"{shot.n:02d}-{name}.png"), full_page=True)
            check(page, name)

        def step(text):
            if errors:
                raise AssertionError(f"JavaScript errors: {errors}")
            passed.append(text)
            print(f"ok {len(passed)} - {text}", flush=True)

        def sign_in(page, user, host=False):
            page.goto(f"{server.url}/#/sign-in")
            page.get_by_label("User name").fill(user)
            if host:
                page.get_by_label("I am a host").check()
            check(page, "sign-in")
            page.get_by_role("button", name="Sign in", exact=True).click()
            expect(page.locator("#flash")).to_contain_text(f"Signed in as {user}")

        def register_room(page, room_title, address, price, about, amenities, shot_name=None):
            page.get_by_role("link", name="Register a room").click()
            page.get_by_label("Title").fill(room_title)
            page.get_by_label("City").fill("Seoul")
            page.get_by_label("Address").fill(address)
            page.get_by_label("Guests it sleeps").fill("2")
            page.get_by_label("Price per night").fill(str(price))
            page.get_by_label("Description").fill(about)
            page.get_by_label("Amenities").fill(amenities)
            if shot_name:
                shot(page, shot_name)
            page.get_by_role("button", name="Register room").click()
            expect(page.locator("#flash")).to_contain_text("is registered")
            expect(page.get_by_test_id("host-room").filter(has_text=room_title)).to_be_visible()

        def set_stay(page, stay, guests=None):
            page.get_by_label("Check-in", exact=True).fill(iso(stay[0]))
            page.get_by_label("Check-out", exact=True).fill(iso(stay[1]))
            if guests:
                page.get_by_label("Guests", exact=True).fill(str(guests))

        def cell(page, night):
            return page.locator(f'[data-testid=occupancy] [data-night="{iso(night)}"]')

        try:
            cognito_sign_in(person("cognito"), server.url, answered, check)
            step("the Cognito hosted-UI sign-in (code + PKCE) works against a stand-in, and signs out there")

            # 1. A host registers a room.
            host = person("host")
            sign_in(host, "hana", host=True)
            host.get_by_role("link", name="Hosting").click()
            expect(host.get_by_role("heading", name="Host dashboard", level=1)).to_be_visible()
            expect(host.get_by_text("No rooms yet")).to_be_visible()
            register_room(host, title, "12 Bukchon-ro, Jongno-gu", 120000, "A quiet hanok with a courtyard, five minutes from the palace.",
                          "wifi, heated floor, kitchen", shot_name="host-new-room")
            expect(host.get_by_test_id("stat-rooms")).to_contain_text("1")
            shot(host, "host-dashboard-empty")
            step("a host registers a room and sees it on the dashboard")

            # 2. A guest sets a phone number, finds the room and books two stays.
            guest = person("guest")
            sign_in(guest, "minho")
            guest.get_by_role("link", name="Profile").click()
            guest.get_by_label("Mobile phone number").fill("+821012345678")
            guest.get_by_label("Language of messages").select_option("en")
            guest.get_by_role("button", name="Save").click()
            expect(guest.get_by_test_id("profile-answer")).to_contain_text("Saved")
            expect(guest.get_by_role("button", name="Become a host")).to_be_visible()
            shot(guest, "guest-profile")
            guest.get_by_role("link", name="Search").click()
            guest.get_by_label("City").fill("Seoul")
            set_stay(guest, stay_a, guests=2)
            guest.get_by_role("button", name="Search").click()
            card = guest.get_by_test_id("room-card").filter(has_text=title)
            expect(card).to_contain_text("₩120,000")
            expect(card).to_contain_text("₩240,000 in total")
            shot(guest, "guest-search")
            card.get_by_role("link", name=title).click()
            expect(guest.get_by_role("heading", name=title, level=1)).to_be_visible()
            expect(guest.get_by_label("Check-in")).to_have_value(iso(stay_a[0]))
            guest.get_by_role("button", name="Book and pay").click()
            answer = guest.get_by_test_id("booking-answer")
            expect(answer).to_contain_text("Booked!")
            expect(answer).to_contain_text(f"{en_day(stay_a[0])} → {en_day(stay_a[1])} (2 nights). ₩240,000 was charged.")
            shot(guest, "guest-booked")
            set_stay(guest, stay_b)
            guest.get_by_role("button", name="Book and pay").click()
            expect(answer).to_contain_text(f"Booked! {title}, {en_day(stay_b[0])}")
            step("a guest searches the city and dates, finds the room and books two stays")

            set_stay(guest, stay_c)
            guest.get_by_label("Card").select_option("tok_declined")
            guest.get_by_role("button", name="Book and pay").click()
            expect(answer).to_contain_text("Your card was declined. Nothing was booked or charged")
            shot(guest, "guest-declined")
            step("a declined card is explained in plain words")

            # 2b. Payment times out (the test card says so): 503 + Retry-After, said in plain words.
            expect(guest.get_by_label("Card").locator("option[value=tok_slow]")).to_have_text("Test card: payment times out")
            guest.get_by_label("Card").select_option(label="Test card: payment times out")
            book = guest.get_by_test_id("book")
            is_booking = lambda r: r.request.method == "POST" and urlparse(r.url).path == "/reservations"
            with guest.expect_response(is_booking) as busy:
                book.click()
            busy = busy.value
            problem = busy.json()
            assert busy.status == 503 and re.fullmatch(r"\d+", busy.headers.get("retry-after", "")), (busy.status, busy.headers)
            seconds = int(busy.headers["retry-after"])
            assert problem["type"].endswith("/payment-unavailable") and problem.get("retryAfter", seconds) == seconds, problem
            expect(answer).to_contain_text(re.compile(rf"payment is busy\b.*\btry again in {seconds} seconds", re.I))
            expect(answer).to_contain_text("nothing was booked or charged")
            expect(answer).to_have_class(re.compile(r"\berror\b"))
            if seconds > 1:  # the button waits out Retry-After, saying so
                expect(book).to_be_disabled()
                expect(book).to_contain_text("Try again in")
            shot(guest, "guest-payment-busy")
            token = guest.evaluate("JSON.parse(sessionStorage.getItem('bnb.session')).token")
            mine = guest.request.get(f"{server.url}/me/reservations", headers={"authorization": f"Bearer {token}"})
            assert mine.status == 200, mine.text()
            kept = [(r["checkIn"], r["checkOut"], r["status"]) for r in mine.json()["items"]]
            assert sorted(kept) == sorted([(iso(stay_a[0]), iso(stay_a[1]), "CONFIRMED"), (iso(stay_b[0]), iso(stay_b[1]), "CONFIRMED")]), kept
            guest.get_by_role("link", name="My trips").click()
            expect(guest.get_by_test_id("trip")).to_have_count(2)
            expect(guest.get_by_test_id("trip").filter(has_text=en_day(stay_c[0]))).to_have_count(0)
            step(f"payment timing out is said in plain words: busy, try again in {seconds} seconds (Retry-After); nothing is booked")

            # 3. The host's dashboard, never reloaded, shows the stays and the booked nights.
            expect(host.get_by_test_id("stay")).to_have_count(2)
            expect(host.get_by_test_id("stay").first).to_contain_text("guest minho")
            for night in nights(stay_a) + nights(stay_b):
                expect(cell(host, night)).to_have_attribute("data-booked", "1")
            expect(cell(host, stay_c[0])).to_have_attribute("data-booked", "0")
            expect(host.get_by_test_id("stat-revenue")).to_contain_text("₩480,000")
            expect(host.get_by_test_id("occupancy-text")).to_contain_text("4 of 30 room-nights booked")
            expect(host.get_by_role("img", name="Booked nights, next 30 days")).to_be_visible()
            shot(host, "host-dashboard-booked")
            step("the host's dashboard shows the stays and the occupancy picture by polling")

            # 4. The guest cancels the second stay.
            guest.get_by_role("link", name="My trips").click()
            trips = guest.get_by_test_id("trip")
            expect(trips).to_have_count(2)
            second = trips.filter(has_text=f"{en_day(stay_b[0])} → {en_day(stay_b[1])}")
            expect(second.get_by_test_id("status")).to_have_text("Confirmed")
            second.get_by_role("button", name="Cancel reservation").click()
            dialog = guest.get_by_role("dialog")
            expect(dialog).to_contain_text("You will be refunded")
            check(guest, "guest-cancel-dialog")
            dialog.get_by_role("button", name="Cancel reservation").click()
            expect(second.get_by_test_id("status")).to_have_text("Cancelled")
            expect(guest.get_by_test_id("trips-answer")).to_contain_text("Your refund is on its way")
            first = trips.filter(has_text=f"{en_day(stay_a[0])} → {en_day(stay_a[1])}")
            expect(first.get_by_test_id("status")).to_have_text("Confirmed")
            shot(guest, "guest-trips-cancelled")
            step("the guest cancels from my trips and sees it cancelled")

            # 5. The refund reaches the guest's notifications, its delivery said in words.
            guest.get_by_role("link", name="Notifications").click()
            refund = guest.locator('[data-testid=notification][data-template="payment-refunded"]')
            expect(refund).to_contain_text("refunded")
            expect(refund.get_by_test_id("delivery")).not_to_have_text(re.compile(r"^[A-Z_]+$|unknown"))
            expect(guest.locator('[data-testid=notification][data-template="reservation-confirmed"]')).to_have_count(2)
            shot(guest, "guest-notifications")
            for night in nights(stay_b):
                expect(cell(host, night)).to_have_attribute("data-booked", "0")
            expect(host.get_by_test_id("stay")).to_have_count(1)
            step("the refund notification appears; the dashboard frees the cancelled nights")

            # 6. A second guest, on a phone, is told the first stay's nights are taken.
            phone = person("phone", viewport=PHONE)
            sign_in(phone, "jisu")
            phone.get_by_label("City").fill("Seoul")
            set_stay(phone, stay_a, guests=2)
            phone.get_by_role("button", name="Search").click()
            expect(phone.get_by_test_id("no-rooms")).to_contain_text("No free rooms match")
            shot(phone, "phone-search-none-free")
            # The room's own calendar hears of the cancel through its queue: search until it has.
            set_stay(phone, stay_b, guests=2)
            card = phone.get_by_test_id("room-card").filter(has_text=title)
            deadline = time.monotonic() + TIMEOUT / 1000
            while True:
                phone.get_by_role("button", name="Search").click()
                expect(card.or_(phone.get_by_test_id("no-rooms"))).to_be_visible()
                if card.count() or time.monotonic() > deadline:
                    break
            card.get_by_role("link", name=title).click()
            expect(phone.get_by_role("heading", name=title, level=1)).to_be_visible()  # not the search form's dates
            set_stay(phone, stay_a)
            phone.get_by_role("button", name="Book and pay").click()
            taken = phone.get_by_test_id("booking-answer")
            expect(taken).to_contain_text("those nights are already booked")
            for night in nights(stay_a):
                expect(taken).to_contain_text(en_day(night))
            taken.scroll_into_view_if_needed()
            shot(phone, "phone-nights-taken")
            step("a second guest is told which nights are taken")

            # 7. In Korean: the switch, the words, and a booking of the freed nights.
            phone.get_by_role("button", name="한국어").click()
            expect(phone.locator("html")).to_have_attribute("lang", "ko")
            expect(phone.get_by_role("link", name="숙소 찾기")).to_be_visible()
            expect(phone.get_by_role("heading", name="예약하기")).to_be_visible()
            phone.get_by_label("체크인").fill(iso(stay_b[0]))
            phone.get_by_label("체크아웃").fill(iso(stay_b[1]))
            phone.get_by_role("button", name="예약하고 결제하기").click()
            expect(phone.get_by_test_id("booking-answer")).to_contain_text("예약되었습니다!")
            expect(phone.get_by_test_id("booking-answer")).to_contain_text("2박")
            shot(phone, "phone-ko-booked")
            phone.get_by_role("link", name="내 여행", exact=True).click()
            expect(phone.get_by_role("heading", name="내 여행", level=1)).to_be_visible()
            expect(phone.get_by_test_id("trip").get_by_test_id("status")).to_have_text("예약 확정")
            shot(phone, "phone-ko-trips")
            step("Korean renders, and the freed nights can be booked again")

            # 8. The host edits the room after someone else changed it: told to reload.
            host.get_by_test_id("host-room").get_by_role("link", name="Edit").click()
            expect(host.get_by_label("Title")).to_have_value(title)
            token = host.evaluate("JSON.parse(sessionStorage.getItem('bnb.session')).token")
            room_id = host.url.split("/rooms/")[1].split("/")[0]
            changed = host.request.put(f"{server.url}/rooms/{room_id}", headers={"authorization": f"Bearer {token}", "if-match": '"1"', "content-type": "application/json"},
                                       data=json.dumps({"title": f"{title} (renovated)", "city": "Seoul", "address": "12 Bukchon-ro, Jongno-gu",
                                                        "capacity": 2, "nightlyPrice": {"amount": 120000, "currency": "KRW"}}))
            assert changed.status == 200, changed.text()
            host.get_by_label("Price per night").fill("135000")
            host.get_by_role("button", name="Save").click()
            expect(host.get_by_test_id("room-answer")).to_contain_text("Someone changed this room since you opened it")
            shot(host, "host-edit-stale")
            host.get_by_test_id("reload").click()
            expect(host.get_by_label("Title")).to_have_value(f"{title} (renovated)")
            host.get_by_label("Price per night").fill("135000")
            host.get_by_role("button", name="Save").click()
            expect(host.locator("#flash")).to_contain_text("is saved")
            expect(host.get_by_test_id("host-room")).to_contain_text("₩135,000")
            step("a stale edit is explained, and saves after a reload")

            # 9. The host, in Korean, sees the dashboard, then deletes the room (confirming first).
            host.get_by_role("button", name="한국어").click()
            expect(host.get_by_role("heading", name="호스트 대시보드", level=1)).to_be_visible()
            expect(host.get_by_test_id("stay")).to_have_count(2)
            expect(host.get_by_role("img", name="앞으로 30일 예약 현황")).to_be_visible()
            shot(host, "host-ko-dashboard")
            host.get_by_role("button", name="숙소 삭제").click()
            expect(host.get_by_role("dialog")).to_contain_text("삭제할까요")
            check(host, "host-ko-delete-dialog")
            host.get_by_role("dialog").get_by_role("button", name="그대로 두기").click()
            expect(host.get_by_test_id("host-room")).to_have_count(1)
            host.get_by_role("button", name="숙소 삭제").click()
            host.get_by_role("dialog").get_by_role("button", name="숙소 삭제").click()
            expect(host.get_by_test_id("dashboard-answer")).to_contain_text("삭제했습니다")
            expect(host.get_by_test_id("host-room")).to_have_count(0)
            expect(host.get_by_test_id("stay")).to_have_count(0)
            step("the host deletes the room after confirming; its stays leave the dashboard")

            # 10. A guest becomes a host in the app (POST /me/host; the next token carries it) and
            # sees the host's dashboard, with no administrator involved.
            phone.get_by_role("link", name="호스팅").click()
            expect(phone.get_by_role("heading", name="호스트 되기")).to_be_visible()
            phone.get_by_role("button", name="호스트 되기").click()
            expect(phone.locator("#flash").filter(has_text="이제 호스트입니다")).to_be_visible()
            expect(phone.get_by_role("heading", name="호스트 대시보드")).to_be_visible()
            shot(phone, "phone-ko-become-host")
            step("a guest becomes a host in the app and gets the host's dashboard")

            # 11. The host, back in English, registers another room.
            host.get_by_role("button", name="English").click()
            expect(host.locator("html")).to_have_attribute("lang", "en")
            expect(host.get_by_role("heading", name="Host dashboard", level=1)).to_be_visible()
            register_room(host, loft, "8 Seongsu-iro, Seongdong-gu", 95000, "A bright loft above the river walk.", "wifi, washer")
            step("the host switches back to English (html lang follows) and registers another room")

            # 12. A guest signs in, searches and books with the keyboard only; every stop shows its focus.
            keys = person("keys")
            keys.goto(f"{server.url}/#/search")
            expect(keys.get_by_role("heading", name="Find a place to stay", level=1)).to_be_visible()
            tab_to(keys, keys.get_by_test_id("sign-in-link"))
            keys.keyboard.press("Enter")
            tab_to(keys, keys.get_by_label("User name"))
            keys.keyboard.type("yuna")
            tab_to(keys, keys.get_by_role("button", name="Sign in", exact=True))
            keys.keyboard.press("Enter")
            expect(keys.locator("#flash")).to_contain_text("Signed in as yuna")
            tab_to(keys, keys.get_by_label("City"))
            keys.keyboard.type("Seoul")
            for label, date in (("Check-in", stay_d[0]), ("Check-out", stay_d[1])):
                tab_to(keys, keys.get_by_label(label, exact=True))  # lands on the month; typing moves on
                keys.keyboard.type(f"{date:%m%d%Y}")
                expect(keys.get_by_label(label, exact=True)).to_have_value(iso(date))
            tab_to(keys, keys.get_by_label("Guests", exact=True))
            keys.keyboard.press("ControlOrMeta+a")
            keys.keyboard.type("1")
            tab_to(keys, keys.get_by_role("button", name="Search"))
            keys.keyboard.press("Enter")
            expect(keys.get_by_test_id("room-card")).to_have_count(1)
            check(keys, "keys-search-results")
            tab_to(keys, keys.get_by_test_id("room-card").get_by_role("link", name=loft))
            keys.keyboard.press("Enter")
            expect(keys.get_by_role("heading", name=loft, level=1)).to_be_visible()
            book = keys.get_by_role("button", name="Book and pay")
            tab_to(keys, book)
            tab_to(keys, keys.get_by_label("Card"), back=True)  # a look back at the card before paying
            expect(keys.get_by_label("Card")).to_have_value("tok_visa")
            tab_to(keys, book)
            keys.keyboard.press("Space")
            expect(keys.get_by_test_id("booking-answer")).to_contain_text(f"Booked! {loft}, {en_day(stay_d[0])} → {en_day(stay_d[1])} (2 nights)")
            expect(book).to_be_focused()  # the focus comes back to the button once the answer is in
            focus = keys.evaluate(FOCUS_JS)
            assert focus["visible"], focus
            shot(keys, "keys-booked")
            step("a guest signs in, searches and books with the keyboard only, every focus visible")

            # 13. Forty days later: bnb-local restarts over the same data folder with its clock
            # ahead; the guest signs in again and reviews the finished stay.
            for name in list(pages):
                leave(name)
            server.restart("--days-ahead", str(days_ahead))
            later = person("later")  # the app takes the date from bnb (config.json), not the browser
            sign_in(later, "yuna")
            later.get_by_role("link", name="My trips").click()
            finished = later.get_by_test_id("trip").filter(has_text=f"{en_day(stay_d[0])} → {en_day(stay_d[1])}")
            expect(finished.get_by_test_id("status")).to_have_text("Confirmed")
            expect(finished.get_by_role("button", name="Cancel reservation")).to_have_count(0)
            check(later, "later-trips")
            finished.get_by_role("link", name="Write a review").click()
            expect(later.get_by_role("heading", name=f"Review {loft}", level=1)).to_be_visible()
            later.get_by_label("4 out of 5 stars").check()
            words = "Bright and quiet, with the river walk right outside. The washer was handy."
            later.get_by_label("Your review").fill(words)
            shot(later, "later-review-form")
            later.get_by_role("button", name="Send review").click()
            expect(later.locator("#flash")).to_contain_text("Thank you for your review!")
            expect(later.get_by_role("heading", name=loft, level=1)).to_be_visible()
            review = later.get_by_test_id("review")
            expect(review).to_have_count(1)
            expect(review).to_contain_text(words)
            expect(review).to_contain_text("yuna")
            expect(review.get_by_role("img", name="4 out of 5 stars")).to_have_text("★★★★☆")
            # The room's rating follows the review through its queue: reload until it has.
            rated = later.get_by_test_id("room-rating").get_by_role("img", name="Rated 4.0 out of 5 from 1 review")
            deadline = time.monotonic() + TIMEOUT / 1000
            while not rated.count() and time.monotonic() < deadline:
                later.reload()
                expect(later.get_by_test_id("review")).to_have_count(1)
            expect(rated).to_have_text("★ 4.0 · 1 review")
            shot(later, "later-room-reviewed")
            step(f"{days_ahead} days later (bnb-local restarted on the same data), the guest reviews the finished stay; the room shows it, rated 4")

            # 14. The API's contract, laid out at /api.html from /openapi.json: every operation
            # of docs/openapi.yaml, each opening on its parameters, body and answers.
            import yaml  # from the tools venv (cfn-lint's)
            contract = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
            operations = [(m.upper(), p) for p, item in contract["paths"].items() for m in item if m in ("get", "post", "put", "delete", "patch")]
            reader = person("reader")
            reader.goto(f"{server.url}/api.html")
            expect(reader.get_by_role("heading", name="bnb API", level=1)).to_be_visible()
            expect(reader.get_by_test_id("operation")).to_have_count(len(operations))
            booking = reader.get_by_role("region", name="POST /reservations", exact=True)
            opener = booking.get_by_role("button")  # the operation's one button: its method, path and summary
            expect(opener).to_have_attribute("aria-expanded", "false")
            opener.click()
            expect(opener).to_have_attribute("aria-expanded", "true")
            for status in ("201", "402", "409", "503"):
                expect(booking.get_by_test_id("answer").filter(has_text=status).first).to_be_visible()
            shot(reader, "api-contract")
            leave("reader")
            step(f"the API page lays out the contract: {len(operations)} operations, POST /reservations opening on its answers (201, 402, 409, 503)")

            # 15. What the audits on every screen found, and that nothing left bnb.
            missing = A11Y_KINDS - looked.keys()
            assert not missing, f"the audits never met: {missing}"
            step(f"on {len(check.screens)} screens every control has a name, {sum(looked.values())} texts keep WCAG contrast "
                 f"({', '.join(f'{k} {n}' for k, n in sorted(looked.items()))}), html[lang] follows the language")
            home = urlparse(server.url)
            away = [(who, url) for who, url in requests
                    if (urlparse(url).scheme, urlparse(url).netloc) != (home.scheme, home.netloc) and not url.startswith("data:")]
            stand_in = [(who, url) for who, url in away if who == "cognito" and url in answered]
            outside = [r for r in away if r not in stand_in]
            assert not outside, f"requests that left bnb: {outside}"
            assert stand_in and all(url.startswith("https://auth.bnb.test/") for _, url in stand_in), stand_in
            named = foreign_urls(ROOT / "web")
            assert not named, f"web/ names other hosts: {named}"
            step(f"nothing leaves bnb: of {len(requests)} requests, {len(requests) - len(stand_in)} went to {home.netloc} and "
                 f"{len(stand_in)} to the Cognito stand-in, answered inside the page; no file under web/ names another host "
                 f"(but Toss's SDK, loaded only where Toss takes the payments)")
        except Exception:
            traceback.print_exc()
            for name, page in pages.items():
                try:
                    page.screenshot(path=str(SHOTS / f"fail-{name}.png"), full_page=True)
                except Exception:
                    pass
            print(f"story: {len(passed)} passed, 1 failed")
            raise SystemExit(1)
        finally:
            browser.close()
    print(f"story: {len(passed)} passed, 0 failed")


if __name__ == "__main__":
    main()
