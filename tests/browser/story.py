#!/usr/bin/env python3
"""bnb's web app played through as people use it, in a real (headless) Chromium.

A host registers a room; a guest finds it and books two stays (and is declined on a third);
the host's dashboard shows the stays without a reload; the guest cancels one and hears of the
refund; a second guest, on a phone, is told the other stay's nights are taken, then switches to
Korean and books the freed nights; the host meets a stale edit and deletes the room.

Starts its own `bnb-local up` (BNB_LOCAL_BIN, default target/debug/bnb-local; BNB_TEMPLATE,
default template.yaml) on a free
127.0.0.1 port with a temporary data folder, and always stops it. Screenshots go to
tests/browser/screenshots/. Exits non-zero on the first failure.

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
    """A fresh `bnb-local up`: its own data folder and port, 1 s queue retries."""

    def __enter__(self):
        binary = Path(os.environ.get("BNB_LOCAL_BIN", "target/debug/bnb-local"))
        binary = binary if binary.is_absolute() else ROOT / binary
        if not binary.exists():
            raise SystemExit(f"no bnb-local at {binary}: build it (cargo build -p bnb-local) or set BNB_LOCAL_BIN")
        self.data = Path(tempfile.mkdtemp(prefix="bnb-browser-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(self.data / "server.log", "w")
        self.proc = subprocess.Popen(
            [str(binary), "--data-dir", str(self.data / "store"), "--template", os.environ.get("BNB_TEMPLATE", str(ROOT / "template.yaml")), "up",
             "--port", str(self.port), "--web", str(ROOT / "web"), "--visibility-timeout", "1"],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
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
                raise RuntimeError(f"bnb-local did not answer within 30 s:\n{self.tail()}")
            time.sleep(0.2)

    def tail(self, lines=40):
        self.log.flush()
        text = re.sub(r"\x1b\[[0-9;]*m", "", (self.data / "server.log").read_text(errors="replace"))
        return "\n".join(text.splitlines()[-lines:])

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if exc[0] is not None:
            print(f"--- bnb-local log (last lines) ---\n{self.tail()}", file=sys.stderr)
        self.log.close()
        shutil.rmtree(self.data, ignore_errors=True)


def en_day(d):  # as the app writes a date in English: "Thu, Dec 10"
    return f"{d:%a}, {d:%b} {d.day}"


def cognito_sign_in(page, base):
    """The hosted-UI flow against a stand-in for Cognito (routes in the page; nothing leaves the machine)."""
    domain, seen = "https://auth.bnb.test", {}
    config = {"signIn": "cognito", "apiBase": "", "cognitoDomain": domain, "clientId": "client-1", "redirectUri": f"{base}/"}
    page.route("**/config.json", lambda r: r.fulfill(json=config))

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

    page.route(f"{domain}/oauth2/authorize*", authorize)
    page.route(f"{domain}/oauth2/token", token)
    page.route(f"{domain}/logout*", lambda r: r.fulfill(body="signed out at the stand-in"))
    page.goto(f"{base}/#/search?city=Seoul")
    page.get_by_test_id("sign-in-link").click()
    page.get_by_role("button", name="Sign in with your bnb account").click()
    expect(page.locator("#flash")).to_contain_text("Signed in as sora")
    expect(page.get_by_test_id("who")).to_have_text("sora")
    assert "code=" not in page.url and page.url.endswith("#/search?city=Seoul"), page.url
    groups = page.evaluate("import('./auth.js').then((m) => m.refresh()).then((s) => s.groups)")
    assert groups == ["guest", "host"], groups
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{domain}/logout*")
    assert parse_qs(urlparse(page.url).query)["logout_uri"] == [f"{base}/"], page.url


def main():
    SHOTS.mkdir(exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    today = dt.datetime.now(ZoneInfo("Asia/Seoul")).date()
    stay_a = (today + dt.timedelta(days=5), today + dt.timedelta(days=7))
    stay_b = (today + dt.timedelta(days=10), today + dt.timedelta(days=12))
    stay_c = (today + dt.timedelta(days=14), today + dt.timedelta(days=15))
    nights = lambda s: [s[0] + dt.timedelta(days=i) for i in range((s[1] - s[0]).days)]
    iso = dt.date.isoformat
    title = "Hanok by the palace"
    passed, pages = [], {}
    expect.set_options(timeout=TIMEOUT)

    with Server() as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), headless=True, args=CHROMIUM_ARGS)
        errors = []

        def person(name, viewport=DESKTOP, locale="en-US"):
            ctx = browser.new_context(viewport=viewport, locale=locale, timezone_id="Asia/Seoul")
            ctx.set_default_timeout(TIMEOUT)
            page = ctx.new_page()
            page.on("pageerror", lambda e: errors.append(f"{name}: {e}"))
            pages[name] = page
            return page

        def shot(page, name):
            page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

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
            page.get_by_role("button", name="Sign in", exact=True).click()
            expect(page.locator("#flash")).to_contain_text(f"Signed in as {user}")

        def set_stay(page, stay, guests=None):
            page.get_by_label("Check-in", exact=True).fill(iso(stay[0]))
            page.get_by_label("Check-out", exact=True).fill(iso(stay[1]))
            if guests:
                page.get_by_label("Guests", exact=True).fill(str(guests))

        def cell(page, night):
            return page.locator(f'[data-testid=occupancy] [data-night="{iso(night)}"]')

        try:
            cognito_sign_in(person("cognito"), server.url)
            step("the Cognito hosted-UI sign-in (code + PKCE) works against a stand-in, and signs out there")

            # 1. A host registers a room.
            host = person("host")
            sign_in(host, "hana", host=True)
            host.get_by_role("link", name="Hosting").click()
            expect(host.get_by_role("heading", name="Host dashboard", level=1)).to_be_visible()
            expect(host.get_by_text("No rooms yet")).to_be_visible()
            host.get_by_role("link", name="Register a room").click()
            host.get_by_label("Title").fill(title)
            host.get_by_label("City").fill("Seoul")
            host.get_by_label("Address").fill("12 Bukchon-ro, Jongno-gu")
            host.get_by_label("Guests it sleeps").fill("2")
            host.get_by_label("Price per night").fill("120000")
            host.get_by_label("Description").fill("A quiet hanok with a courtyard, five minutes from the palace.")
            host.get_by_label("Amenities").fill("wifi, heated floor, kitchen")
            shot(host, "01-host-new-room")
            host.get_by_role("button", name="Register room").click()
            expect(host.locator("#flash")).to_contain_text("is registered")
            expect(host.get_by_test_id("host-room")).to_contain_text(title)
            expect(host.get_by_test_id("stat-rooms")).to_contain_text("1")
            shot(host, "02-host-dashboard-empty")
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
            shot(guest, "03-guest-profile")
            guest.get_by_role("link", name="Search").click()
            guest.get_by_label("City").fill("Seoul")
            set_stay(guest, stay_a, guests=2)
            guest.get_by_role("button", name="Search").click()
            card = guest.get_by_test_id("room-card").filter(has_text=title)
            expect(card).to_contain_text("₩120,000")
            expect(card).to_contain_text("₩240,000 in total")
            shot(guest, "04-guest-search")
            card.get_by_role("link", name=title).click()
            expect(guest.get_by_role("heading", name=title, level=1)).to_be_visible()
            expect(guest.get_by_label("Check-in")).to_have_value(iso(stay_a[0]))
            guest.get_by_role("button", name="Book and pay").click()
            answer = guest.get_by_test_id("booking-answer")
            expect(answer).to_contain_text("Booked!")
            expect(answer).to_contain_text(f"{en_day(stay_a[0])} → {en_day(stay_a[1])} (2 nights). ₩240,000 was charged.")
            shot(guest, "05-guest-booked")
            set_stay(guest, stay_b)
            guest.get_by_role("button", name="Book and pay").click()
            expect(answer).to_contain_text(f"Booked! {title}, {en_day(stay_b[0])}")
            step("a guest searches the city and dates, finds the room and books two stays")

            set_stay(guest, stay_c)
            guest.get_by_label("Card").select_option("tok_declined")
            guest.get_by_role("button", name="Book and pay").click()
            expect(answer).to_contain_text("Your card was declined. Nothing was booked or charged")
            shot(guest, "06-guest-declined")
            step("a declined card is explained in plain words")

            # 3. The host's dashboard, never reloaded, shows the stays and the booked nights.
            expect(host.get_by_test_id("stay")).to_have_count(2)
            expect(host.get_by_test_id("stay").first).to_contain_text("guest minho")
            for night in nights(stay_a) + nights(stay_b):
                expect(cell(host, night)).to_have_attribute("data-booked", "1")
            expect(cell(host, stay_c[0])).to_have_attribute("data-booked", "0")
            expect(host.get_by_test_id("stat-revenue")).to_contain_text("₩480,000")
            expect(host.get_by_test_id("occupancy-text")).to_contain_text("4 of 30 room-nights booked")
            expect(host.get_by_role("img", name="Booked nights, next 30 days")).to_be_visible()
            shot(host, "07-host-dashboard-booked")
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
            dialog.get_by_role("button", name="Cancel reservation").click()
            expect(second.get_by_test_id("status")).to_have_text("Cancelled")
            expect(guest.get_by_test_id("trips-answer")).to_contain_text("Your refund is on its way")
            first = trips.filter(has_text=f"{en_day(stay_a[0])} → {en_day(stay_a[1])}")
            expect(first.get_by_test_id("status")).to_have_text("Confirmed")
            shot(guest, "08-guest-trips-cancelled")
            step("the guest cancels from my trips and sees it cancelled")

            # 5. The refund reaches the guest's notifications, its delivery said in words.
            guest.get_by_role("link", name="Notifications").click()
            refund = guest.locator('[data-testid=notification][data-template="payment-refunded"]')
            expect(refund).to_contain_text("refunded")
            expect(refund.get_by_test_id("delivery")).not_to_have_text(re.compile(r"^[A-Z_]+$|unknown"))
            expect(guest.locator('[data-testid=notification][data-template="reservation-confirmed"]')).to_have_count(2)
            shot(guest, "09-guest-notifications")
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
            shot(phone, "10-phone-search-none-free")
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
            set_stay(phone, stay_a)
            phone.get_by_role("button", name="Book and pay").click()
            taken = phone.get_by_test_id("booking-answer")
            expect(taken).to_contain_text("those nights are already booked")
            for night in nights(stay_a):
                expect(taken).to_contain_text(en_day(night))
            taken.scroll_into_view_if_needed()
            shot(phone, "11-phone-nights-taken")
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
            shot(phone, "12-phone-ko-booked")
            phone.get_by_role("link", name="내 여행", exact=True).click()
            expect(phone.get_by_role("heading", name="내 여행", level=1)).to_be_visible()
            expect(phone.get_by_test_id("trip").get_by_test_id("status")).to_have_text("예약 확정")
            shot(phone, "13-phone-ko-trips")
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
            shot(host, "14-host-edit-stale")
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
            shot(host, "15-host-ko-dashboard")
            host.get_by_role("button", name="숙소 삭제").click()
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
            shot(phone, "16-phone-ko-become-host")
            step("a guest becomes a host in the app and gets the host's dashboard")
        except Exception:
            traceback.print_exc()
            for name, page in pages.items():
                try:
                    shot(page, f"fail-{name}")
                except Exception:
                    pass
            print(f"story: {len(passed)} passed, 1 failed")
            raise SystemExit(1)
        finally:
            browser.close()
    print(f"story: {len(passed)} passed, 0 failed")


if __name__ == "__main__":
    main()
