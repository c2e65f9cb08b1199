#!/usr/bin/env python3
"""The end-to-end smoke story against a running bnb: a deployed stack (what the deploy workflow
runs against dev before prod) or `bnb-local up` (what the test command runs, so this file is
exercised on every change).

A host registers a room, anyone reads it, a guest books and pays, the booking's status view and
the host's dashboard show it (the event path works end to end), the guest cancels and the refund
shows, the host deletes the room. Each step checks what it says; the first that does not hold
exits non-zero. Every wait is bounded. It leaves nothing behind: the room is deleted, and on
Cognito the two users it made are deleted too.

Who calls:
  --host-token T --guest-token T         tokens you have (bnb-local: `bnb-local token ...`)
  --user-pool-id P --client-id C         make two throwaway Cognito users with the admin API
                                         (boto3, the caller's AWS credentials), sign them in with
                                         USER_PASSWORD_AUTH, delete them at the end
"""
import argparse
import json
import secrets
import sys
import time
import urllib.error
import urllib.request
from datetime import date, timedelta


class StepFailed(Exception):
    pass


class Api:
    def __init__(self, base):
        self.base = base.rstrip("/")

    def call(self, method, path, token=None, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("accept", "application/json")
        if data is not None:
            request.add_header("content-type", "application/json")
        if token:
            request.add_header("authorization", "Bearer " + token)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = raw.decode(errors="replace")
        print(f"   {method} {path} -> {status}")
        return status, answer

    def until(self, seconds, what, path, token, check):
        deadline = time.monotonic() + seconds
        while True:
            status, answer = self.call("GET", path, token)
            if status == 200 and check(answer):
                return answer
            if time.monotonic() > deadline:
                raise StepFailed(f"after {seconds} s, still not: {what} (last answer {status} {answer})")
            time.sleep(1)


def expect(condition, what, answer=None):
    if not condition:
        raise StepFailed(f"{what} (answer: {answer})")


class CognitoUsers:
    """Two throwaway users in the stack's pool, in the groups the story needs."""

    def __init__(self, pool_id, client_id, region):
        import boto3  # only this mode needs it

        self.idp = boto3.client("cognito-idp", region_name=region)
        self.pool_id, self.client_id = pool_id, client_id
        self.made = []

    def token(self, role):
        username = f"smoke-{role}-{secrets.token_hex(4)}@example.com"
        password = "Sm0ke-" + secrets.token_urlsafe(18)
        self.idp.admin_create_user(UserPoolId=self.pool_id, Username=username, MessageAction="SUPPRESS",
                                   UserAttributes=[{"Name": "email", "Value": username}, {"Name": "email_verified", "Value": "true"}])
        self.made.append(username)
        self.idp.admin_set_user_password(UserPoolId=self.pool_id, Username=username, Password=password, Permanent=True)
        for group in ["guest", "host"] if role == "host" else ["guest"]:
            self.idp.admin_add_user_to_group(UserPoolId=self.pool_id, Username=username, GroupName=group)
        auth = self.idp.initiate_auth(ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": username, "PASSWORD": password})
        return auth["AuthenticationResult"]["IdToken"]

    def delete(self):
        for username in self.made:
            self.idp.admin_delete_user(UserPoolId=self.pool_id, Username=username)


def story(api, host, guest, wait):
    # Nights far enough ahead, and random, that runs against one stack never collide.
    check_in = date.today() + timedelta(days=400 + secrets.randbelow(2000))
    check_out = check_in + timedelta(days=2)
    room_body = {"title": "Smoke-test hanok", "city": "Seoul", "address": "1 Test-ro", "capacity": 2,
                 "nightlyPrice": {"amount": 100000, "currency": "KRW"}}

    print("1. A host registers a room")
    status, room = api.call("POST", "/rooms", host, room_body)
    expect(status == 201 and room.get("roomId"), "201 with a roomId", room)
    room_id = room["roomId"]
    try:
        print("2. Anyone reads it")
        status, read = api.call("GET", f"/rooms/{room_id}")
        expect(status == 200 and read["title"] == room_body["title"], "200, the same room", read)

        print("3. A guest books two nights and pays")
        booking = {"roomId": room_id, "checkIn": check_in.isoformat(), "checkOut": check_out.isoformat(), "guests": 2, "cardToken": "tok_visa"}
        status, booked = api.call("POST", "/reservations", guest, booking, {"idempotency-key": secrets.token_hex(16)})
        expect(status == 201 and booked["reservation"]["status"] == "CONFIRMED", "201, confirmed", booked)
        reservation_id = booked["reservation"]["reservationId"]

        print("4. The status view and the host's dashboard show it (the event path)")
        api.until(wait, "the status view says CONFIRMED", f"/reservations/{reservation_id}", guest, lambda v: v.get("status") == "CONFIRMED")
        api.until(wait, "the dashboard lists the booking", "/host/dashboard", host,
                  lambda d: any(r.get("reservationId") == reservation_id for r in d.get("latestReservations", [])))

        print("5. The guest cancels; the refund shows")
        status, cancelled = api.call("POST", f"/reservations/{reservation_id}/cancel", guest)
        expect(status == 200, "200", cancelled)
        api.until(wait, "cancelled and refunded", f"/reservations/{reservation_id}", guest,
                  lambda v: v.get("status") == "CANCELLED" and v.get("paymentStatus") == "REFUNDED")
    finally:
        print("6. The host deletes the room")
        status, answer = api.call("DELETE", f"/rooms/{room_id}", host)
        expect(status == 204, "204", answer)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api", required=True, help="the API's base URL (the stack's ApiUrl output)")
    parser.add_argument("--host-token")
    parser.add_argument("--guest-token")
    parser.add_argument("--user-pool-id")
    parser.add_argument("--client-id")
    parser.add_argument("--region")
    parser.add_argument("--wait", type=int, default=60, help="seconds to wait for the event path at each step")
    args = parser.parse_args()
    api = Api(args.api)
    users = None
    try:
        if args.host_token and args.guest_token:
            host, guest = args.host_token, args.guest_token
        elif args.user_pool_id and args.client_id:
            users = CognitoUsers(args.user_pool_id, args.client_id, args.region)
            host, guest = users.token("host"), users.token("guest")
        else:
            parser.error("give --host-token and --guest-token, or --user-pool-id and --client-id")
        story(api, host, guest, args.wait)
    except StepFailed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        if users:
            users.delete()
    print("smoke: the story held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
