#!/usr/bin/env bash
# The OAuth2 dance of a connected app against a Laurels server, with curl.
#
#   LAURELS_BASE_URL=http://127.0.0.1:8000 EMAIL=you@example.org PASSWORD='...' \
#     docs/examples/oauth-dance.sh
#
# Run it on the server's machine (it registers the app with `laurels apps create`, as the
# server's admin would). curl plays both parts: the person's browser (log in, press
# Allow) and the app (exchange the code, call the API, refresh). Needs curl and python3.
set -euo pipefail
BASE=${LAURELS_BASE_URL:-http://127.0.0.1:8000}
REDIRECT_URI=http://localhost:8765/callback
: "${EMAIL:?set EMAIL and PASSWORD of a Laurels account}" "${PASSWORD:?}"

json() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
jar=$(mktemp); trap 'rm -f "$jar"' EXIT
browser() { curl -sS -c "$jar" -b "$jar" "$@"; }

echo "== 1. The admin registers the app (client id and secret are shown once)"
app=$(laurels apps create --name "Shell example" --redirect-uri "$REDIRECT_URI" \
        --scopes "r:profile rw:profile r:backpack" --testing --json)
client_id=$(json "$app" client_id)
client_secret=$(json "$app" client_secret)
echo "client_id=$client_id"

echo "== 2. The person logs in to Laurels in their browser"
csrf=$(browser "$BASE/accounts/login/" | sed -n 's/.*name="csrfmiddlewaretoken" value="\([^"]*\)".*/\1/p')
browser -o /dev/null --data-urlencode "csrfmiddlewaretoken=$csrf" \
  --data-urlencode "username=$EMAIL" --data-urlencode "password=$PASSWORD" "$BASE/accounts/login/"

echo "== 3. The app sends them to /o/authorize (with PKCE and a state); they press Allow"
verifier=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
challenge=$(python3 -c 'import base64,hashlib,sys; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b"=").decode())' "$verifier")
consent_page=$(browser -G "$BASE/o/authorize" --data-urlencode "client_id=$client_id" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "response_type=code" \
  --data-urlencode "scope=r:profile rw:profile" --data-urlencode "state=xyz-123" \
  --data-urlencode "code_challenge=$challenge" --data-urlencode "code_challenge_method=S256")
allow_form=$(python3 -c '
import html.parser, sys, urllib.parse
class Form(html.parser.HTMLParser):
    fields = {}
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value") or ""
form = Form(); form.feed(sys.stdin.read())
print(urllib.parse.urlencode({**form.fields, "allow": "true"}))' <<<"$consent_page")
callback=$(browser -o /dev/null -w '%{redirect_url}' --data "$allow_form" "$BASE/o/authorize")
echo "redirected to: $callback"
code=$(python3 -c 'import sys,urllib.parse as u; q=u.parse_qs(u.urlsplit(sys.argv[1]).query); assert q["state"]==["xyz-123"]; print(q["code"][0])' "$callback")

echo "== 4. The app exchanges the code for tokens"
tokens=$(curl -sS "$BASE/o/token" -d grant_type=authorization_code -d "code=$code" \
  -d "redirect_uri=$REDIRECT_URI" -d "code_verifier=$verifier" \
  -d "client_id=$client_id" -d "client_secret=$client_secret")
echo "$tokens"
access_token=$(json "$tokens" access_token)
refresh_token=$(json "$tokens" refresh_token)

echo "== 5. The app calls the API for the person"
curl -sS -H "Authorization: Bearer $access_token" "$BASE/v2/users/self"; echo

echo "== 6. A day later the access token has expired: the app refreshes it"
refreshed=$(curl -sS "$BASE/o/token" -u "$client_id:$client_secret" \
  -d grant_type=refresh_token -d "refresh_token=$refresh_token")
echo "$refreshed"
curl -sS -H "Authorization: Bearer $(json "$refreshed" access_token)" "$BASE/v2/user/profile"; echo
echo "== done"
