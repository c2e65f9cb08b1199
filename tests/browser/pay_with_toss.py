#!/usr/bin/env python3
"""Paying with Toss Payments in the web app, in a real (headless) Chromium.

bnb-local runs with `--parameter PaymentProvider=toss`, its functions calling a server that
keeps Toss's documented Core API contract (target/debug/examples/toss_contract_server, from
tests/support/toss.rs). The page loads Toss's payment widget SDK from js.tosspayments.com as in
production; here that one script is answered inside the page by a stand-in that keeps the SDK
v2 interface Toss documents (`TossPayments(clientKey).widgets({customerKey})`, `setAmount`
before `renderPaymentMethods`/`renderAgreement`, `requestPayment` redirecting to `successUrl`
with `paymentType`, `orderId`, `paymentKey` and `amount`; docs.tosspayments.com
/guides/payment-widget/integration, /sdk/v2/js), and which authorizes the payment at the
contract server as the guest's card would.

A guest books a stay through Toss: the widget opens for the stay's price, Toss sends the browser
back, the app books with what Toss authorized, and bnb confirms it at Toss (charged once, for
bnb's price). Then a second payment is cancelled in Toss's form (`failUrl`): the guest is told
in Toss's words, and nothing is booked. Every screen is audited as in story.py.

    BNB_LOCAL_BIN=target/debug/bnb-local .tools/venv/bin/python tests/browser/pay_with_toss.py
"""
import base64
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from story import CHROMIUM_ARGS, DESKTOP, ROOT, SHOTS, TIMEOUT, Server, audit  # noqa: E402

SECRET_KEY = "test_sk_bnbContractServer0000"  # the contract server's test key (tests/support/toss.rs)
# Toss's public documentation key for widgets (docs.tosspayments.com/guides/payment-widget/integration).
CLIENT_KEY = "test_gck_docs_Ovk5rk1EwkEbP0W43n07xlzm"
SDK = "https://js.tosspayments.com/v2/standard"
AUTHORIZE = "https://toss.stand-in/authorize"

# The SDK's documented shape, and nothing more: the calls the app makes are kept in window.__toss.
STAND_IN = """
window.TossPayments = function (clientKey) {
  if (!/^test_gck_|^live_gck_/.test(clientKey)) throw new Error('the widget needs a widget client key');
  const seen = (window.__toss = { clientKey, calls: [] });
  return {
    widgets({ customerKey }) {
      seen.calls.push(['widgets', customerKey]);
      let amount = null;
      return {
        async setAmount(a) { seen.calls.push(['setAmount', a]); amount = a; },
        async renderPaymentMethods(o) {
          if (!amount) throw new Error('setAmount comes before renderPaymentMethods');
          const box = document.querySelector(o.selector);
          box.append(Object.assign(document.createElement('p'), { textContent: '신용·체크카드 (Toss Payments stand-in)' }));
          seen.calls.push(['renderPaymentMethods', o.selector]);
        },
        async renderAgreement(o) { seen.calls.push(['renderAgreement', o.selector]); },
        async requestPayment(p) {
          seen.calls.push(['requestPayment', p]);
          const r = await fetch('%s', { method: 'POST', body: JSON.stringify({ orderId: p.orderId, amount: amount.value }) });
          const { paymentKey } = await r.json();
          location.assign(`${p.successUrl}&paymentType=NORMAL&orderId=${p.orderId}&paymentKey=${paymentKey}&amount=${amount.value}`);
        },
      };
    },
  };
};
window.TossPayments.ANONYMOUS = '@@ANONYMOUS';
""" % AUTHORIZE


def contract_server():
    binary = Path(os.environ.get("BNB_TOSS_SERVER_BIN", "target/debug/examples/toss_contract_server"))
    binary = binary if binary.is_absolute() else ROOT / binary
    if not binary.exists():
        raise SystemExit(f"no contract server at {binary}: build it (cargo build -p bnb-tests --example toss_contract_server)")
    proc = subprocess.Popen([str(binary)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"the contract server said {url!r}")
    return proc, url


def toss_get(url, path):
    """A look-up at the contract server, as bnb's adapter makes it (Basic auth, the secret key)."""
    auth = base64.b64encode(f"{SECRET_KEY}:".encode()).decode()
    req = urllib.request.Request(f"{url}{path}", headers={"authorization": f"Basic {auth}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def api(server, method, path, token=None, body=None):
    req = urllib.request.Request(f"{server.url}{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def main():
    SHOTS.mkdir(exist_ok=True)
    for old in SHOTS.glob("toss-*.png"):
        old.unlink()
    today = dt.datetime.now(ZoneInfo("Asia/Seoul")).date()
    stay = (today + dt.timedelta(days=8), today + dt.timedelta(days=10))
    iso = dt.date.isoformat
    price = 95_000
    passed, looked = [], {}
    expect.set_options(timeout=TIMEOUT)
    toss, toss_url = contract_server()
    os.environ["BNB_TOSS_SECRET_KEY"] = SECRET_KEY  # bnb-local reads it from its environment, never a flag
    try:
        with Server() as server:
            server.restart("--parameter", "PaymentProvider=toss", "--toss-endpoint", toss_url, "--toss-client-key", CLIENT_KEY)
            assert api(server, "GET", "/config.json")["payment"] == {"provider": "toss", "clientKey": CLIENT_KEY}
            host = api(server, "POST", "/_bnb/sign-in", body={"user": "hana", "host": True})["token"]
            room = api(server, "POST", "/rooms", host, {"title": "Hanok with a garden", "city": "Seoul", "address": "3 Bukchon-ro",
                                                        "capacity": 2, "nightlyPrice": {"amount": price, "currency": "KRW"}})
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), headless=True, args=CHROMIUM_ARGS)
                ctx = browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="Asia/Seoul")
                ctx.set_default_timeout(TIMEOUT)
                errors, requests = [], []
                ctx.on("request", lambda r: requests.append(r.url))
                ctx.route(SDK, lambda route: route.fulfill(status=200, content_type="text/javascript", body=STAND_IN))

                def authorize(route):
                    # The guest's card, in Toss's form: the contract server authorizes the payment.
                    body = route.request.post_data
                    req = urllib.request.Request(f"{toss_url}/_widget/authorize", data=body.encode(), method="POST",
                                                 headers={"content-type": "application/json"})
                    with urllib.request.urlopen(req, timeout=5) as r:
                        route.fulfill(status=200, content_type="application/json", body=r.read(), headers={"access-control-allow-origin": "*"})
                ctx.route(AUTHORIZE, authorize)
                page = ctx.new_page()
                page.on("pageerror", lambda e: errors.append(str(e)))

                def shot(name):
                    shot.n = getattr(shot, "n", 0) + 1
                    page.screenshot(path=str(SHOTS / f"toss-{shot.n:02d}-{name}.png"), full_page=True)
                    audit(page, name, looked)

                def step(text):
                    assert not errors, f"JavaScript errors: {errors}"
                    passed.append(text)
                    print(f"ok {len(passed)} - {text}", flush=True)

                page.goto(f"{server.url}/#/sign-in")
                page.get_by_label("User name").fill("minho")
                page.get_by_role("button", name="Sign in", exact=True).click()
                expect(page.locator("#flash")).to_contain_text("Signed in as minho")
                page.goto(f"{server.url}/#/rooms/{room['roomId']}?checkIn={iso(stay[0])}&checkOut={iso(stay[1])}&guests=2")
                expect(page.get_by_test_id("toss-note")).to_be_visible()
                expect(page.get_by_label("Card")).to_have_count(0)
                step("the booking screen offers Toss Payments, not the sandbox's test cards")

                page.get_by_role("button", name="Continue to payment").click()
                pay = page.get_by_role("button", name="Pay ₩190,000")
                expect(pay).to_be_visible()
                calls = page.evaluate("window.__toss.calls")
                assert [c[0] for c in calls] == ["widgets", "setAmount", "renderPaymentMethods", "renderAgreement"], calls
                assert calls[0][1] == "@@ANONYMOUS" and calls[1][1] == {"currency": "KRW", "value": 2 * price}, calls
                shot("widget")
                step("Toss's widget opens for the stay's price (2 nights), the amount set before it renders")

                order_id = page.evaluate("Object.keys(sessionStorage).find((k) => k.startsWith('bnb.pay.'))").removeprefix("bnb.pay.")
                # The order is minho's own (his token's sub is his name here): bnb confirms it for him only.
                prefix = "bnb" + hashlib.sha256(b"bnb-order:minho").hexdigest()[:16]
                assert order_id.startswith(prefix + "-") and len(order_id) <= 64, order_id
                pay.click()
                page.wait_for_url(f"{server.url}/#/reservations")
                expect(page.locator("#flash")).to_contain_text("Booked!")
                expect(page.get_by_test_id("trip").first).to_contain_text("Hanok with a garden")
                shot("booked")
                assert page.evaluate("Object.keys(sessionStorage).some((k) => k.startsWith('bnb.pay.'))") is False, "the pending payment is done with"
                charged = toss_get(toss_url, f"/v1/payments/orders/{quote(order_id)}")
                assert charged and charged["status"] == "DONE" and charged["totalAmount"] == 2 * price, charged
                assert "toss=" not in page.url, page.url
                step("back from Toss, the app books with what it authorized, under minho's own order id; bnb confirmed it at Toss, once, for its price")

                page.goto(f"{server.url}/#/rooms/{room['roomId']}?checkIn={iso(stay[1])}&checkOut={iso(stay[1] + dt.timedelta(days=1))}&guests=1")
                page.get_by_role("button", name="Continue to payment").click()
                expect(page.get_by_role("button", name="Pay ₩95,000")).to_be_visible()
                pending = page.evaluate("Object.keys(sessionStorage).find((k) => k.startsWith('bnb.pay.'))")
                order = pending.removeprefix("bnb.pay.")
                # The guest closes Toss's form: Toss sends the browser to failUrl with its reason.
                page.goto(f"{server.url}/?toss=fail&code=PAY_PROCESS_CANCELED&message={quote('사용자에 의해 결제가 취소되었습니다.')}&orderId={order}")
                expect(page.locator("#flash")).to_contain_text("사용자에 의해 결제가 취소되었습니다.")
                shot("cancelled-in-toss")
                assert "toss=" not in page.url, page.url
                assert api(server, "GET", "/me/reservations", api(server, "POST", "/_bnb/sign-in", body={"user": "minho"})["token"])["items"].__len__() == 1
                step("a payment cancelled in Toss's form books nothing, and says so in Toss's words")

                outside = [u for u in requests if not u.startswith(server.url) and u not in (SDK, AUTHORIZE)]
                assert not outside, f"requests beyond bnb-local and the two stand-ins: {outside}"
                step(f"every request went to bnb-local, but the SDK ({SDK}) and the card's authorization, both answered inside the page")
                browser.close()
    finally:
        toss.terminate()
        toss.wait(timeout=10)
    print(f"{len(passed)} steps passed; screenshots in {SHOTS}/toss-*.png; audited {sum(looked.values())} elements")


if __name__ == "__main__":
    main()
