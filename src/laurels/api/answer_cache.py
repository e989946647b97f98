"""Kept answers for the /v2 lists that connected apps poll with a Bearer token.

Displayer apps list a user's backpack and issuer apps page through an issuer's awards
again and again, mostly to find nothing new. Rendering a page of 100 badges through
Django costs milliseconds; checking that nothing changed costs one query on indexes.
So, in front of Django (WSGI), this module keeps the whole answer to such a
request (status, headers, body, exactly as Django and its middleware made it) next to a
*stamp*: the state of the token and the versions of what the list shows
(`backpack_stamp`, `issuer_awards_stamp`; `laurels.core.versions`). A later request
for the same host, path and query string, with a token Django would accept now and that
acts alike (the same user, app, exact scope set and resources: `BearerTokenState.
acting_as`; apps take a new token every hour, and each would miss if answers were kept
per token), reads the stamp again from the database and, if nothing moved, gets the
kept answer; anything else, and every miss, goes through Django unchanged. Nothing in
these answers names the token, and an answer is kept only for whom the view says it
made it (`keep_answer`), so a token alike gets the bytes Django would make for it.

The stamp is read before Django makes the answer, and every change moves its versions
inside its own transaction: an answer is never kept under a stamp newer than its rows.
Revoking or expiring a token, disabling its app, deactivating the user, changing their
verified addresses or role, awarding, revoking, accepting, editing or deleting a badge
(by any path, the admin and cascades included): each moves the stamp, so it shows on
the very next request, in every worker and on every machine. Answers whose rows can
expire with time say until when they hold (`keep_answer`).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest
from django.utils import timezone

from laurels.api.auth import app_quota_check, presented_token
from laurels.backpack.selectors import backpack_stamp
from laurels.connect.selectors import BearerTokenState, bearer_token_state
from laurels.core.errors import RateLimited
from laurels.core.hosts import allowed_host
from laurels.core.sql import Stamp
from laurels.issuing.selectors import issuer_awards_stamp

logger = logging.getLogger(__name__)

# Kept at most this long even if no stamp moved: the token's "last used" time, which
# Django writes down (hourly) when it answers, moves no stamp.
KEEP_SECONDS = 300
KEEP_MARK = "laurels.keep_answer"
# Who the view made the answer for (`keep_answer`): the answer is kept for the tokens
# alike in that only if it is who the token read before Django answered acts as.
MADE_FOR = "laurels.keep_answer.made_for"
ENTITY_ID = r"[A-Za-z0-9_-]{1,64}"


def _issuer_awards(match: re.Match) -> Stamp:
    return issuer_awards_stamp(issuer_entity_id=match[1])


# The lists whose answers are kept, each with the stamp that moves when it could change.
KEPT_LISTS: list[tuple[re.Pattern, Callable[[re.Match], Stamp]]] = [
    (re.compile(r"^/v2/backpack/assertions$"), lambda match: backpack_stamp()),
    (re.compile(rf"^/v2/issuers/({ENTITY_ID})/assertions$"), _issuer_awards),
]


def keep_answer(request: HttpRequest, *, valid_until: datetime | None = None) -> None:
    """Called by a list view: its answer may be kept, until `valid_until` if given
    (the earliest moment a row on the page expires and leaves a list without expired
    rows). Views not in KEPT_LISTS may call it to no effect."""
    request.META[KEEP_MARK] = valid_until or True
    request.META[MADE_FOR] = made_for(getattr(request, "auth", None))


def made_for(caller) -> tuple | None:
    """Who a view's answer was made for, as `BearerTokenState.acting_as` names it (user,
    app, sorted scopes; the resources are the token's, read with it); None for anything
    but an app's token (a session's answers are never kept)."""
    application = getattr(caller, "application", None)
    if application is None or caller.scopes is None:
        return None
    return (caller.user.pk, application.client_id, tuple(sorted(caller.scopes)))


def first_expiry(rows: Iterable) -> datetime | None:
    """When the first of these rows (each with `expires`) expires: a list that leaves
    expired rows out changes then, with no row changed (`keep_answer`'s `valid_until`)."""
    return min((row.expires for row in rows if row.expires is not None), default=None)


@dataclass(frozen=True)
class KeptAnswer:
    stamp: tuple
    valid_until: datetime | None  # when a row on the page expires, if that changes the list
    kept_until: float  # time.monotonic() after which it is made again anyway
    status: str
    headers: list[tuple[str, str]]
    body: bytes


class KeptAnswers:
    """The answers one process keeps: a least-recently-used map bounded by count and by
    the bytes of the bodies, shared by the process's threads. Not Django's cache: every
    use is checked against the database first, so sharing answers between processes
    would only add a network hop, and a local-memory cache would pickle 100 KB on every
    read."""

    def __init__(self, size: int, max_bytes: int) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self._answers: OrderedDict[tuple, KeptAnswer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> KeptAnswer | None:
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def put(self, key: tuple, answer: KeptAnswer) -> None:
        if len(answer.body) > self.max_bytes:
            return
        with self._lock:
            replaced = self._answers.pop(key, None)
            if replaced is not None:
                self.bytes -= len(replaced.body)
            self._answers[key] = answer
            self.bytes += len(answer.body)
            while len(self._answers) > self.size or self.bytes > self.max_bytes:
                _, dropped = self._answers.popitem(last=False)
                self.bytes -= len(dropped.body)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()
            self.bytes = 0


kept_answers = KeptAnswers(settings.LAURELS_KEPT_ANSWERS, settings.LAURELS_KEPT_ANSWERS_BYTES)


class BearerListAnswers:
    """WSGI middleware serving kept list answers whose stamp has not moved."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        found = self._kept_list(environ)
        if found is None:
            return self.application(environ, start_response)
        host = allowed_host(environ)
        if host is None:
            return self.application(environ, start_response)  # Django answers the 400
        token, stamp_of, match = found
        now = timezone.now()
        try:
            state = bearer_token_state(token, stamp_of(match))
        except DatabaseError:
            logger.exception("Could not read the stamp of %s; Django answers", environ["PATH_INFO"])
            connection.close()
            return self.application(environ, start_response)
        if state is None or not state.accepted(now):
            return self.application(environ, start_response)  # Django answers the refusal
        stamp = (state.verdict, state.stamp)
        key = (*state.acting_as, *self._answered_at(environ, host))
        kept = kept_answers.get(key)
        if (
            kept is not None
            and kept.stamp == stamp
            and time.monotonic() < kept.kept_until
            and (kept.valid_until is None or now < kept.valid_until)
            and self._within_app_quota(state)
        ):
            start_response(kept.status, list(kept.headers))
            return [kept.body]
        return self._answer_and_keep(environ, start_response, key, stamp, state)

    @staticmethod
    def _answered_at(environ, host: str) -> tuple:
        """Everything besides who the token acts as (`BearerTokenState.acting_as`) that
        an answer's bytes may depend on: the path and query, and the host and scheme its
        absolute links (`Link: <...>; rel="next"`) and the toolkit's check of a token's
        resources are made of (raw, as Django reads them: the proxy's header where
        trusted)."""
        proxy = settings.SECURE_PROXY_SSL_HEADER
        return (
            host,
            environ.get("wsgi.url_scheme"),
            environ.get(proxy[0]) if proxy else None,
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
        )

    @staticmethod
    def _within_app_quota(state: BearerTokenState) -> bool:
        """A kept answer counts against the app's /v2 quota like any other; beyond it,
        Django answers (and its authentication refuses with 429)."""
        try:
            app_quota_check(
                client_id=state.client_id,
                first_party=state.first_party,
                user_id=state.user_id,
            )
        except RateLimited:
            return False
        return True

    @staticmethod
    def _kept_list(environ) -> tuple[str, Callable, re.Match] | None:
        if environ.get("REQUEST_METHOD") != "GET":
            return None
        token = presented_token(environ.get("HTTP_AUTHORIZATION", ""))
        if token is None:
            return None
        path = environ.get("PATH_INFO", "")
        for pattern, stamp_of in KEPT_LISTS:
            match = pattern.match(path)
            if match:
                return token, stamp_of, match
        return None

    def _answer_and_keep(
        self, environ, start_response, key: tuple, stamp: tuple, state: BearerTokenState
    ) -> Iterable:
        answered: dict = {}

        def capture(status, headers, exc_info=None):
            answered.update(status=status, headers=headers)
            return start_response(status, headers, exc_info)

        result = self.application(environ, capture)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        mark = environ.get(KEEP_MARK)
        headers = answered.get("headers", [])
        if (
            mark is not None
            and environ.get(MADE_FOR) == (state.user_id, state.client_id, state.scopes)
            and answered.get("status", "").startswith("200")
            and not any(name.lower() == "set-cookie" for name, _ in headers)
        ):
            kept_answers.put(
                key,
                KeptAnswer(
                    stamp=stamp,
                    valid_until=None if mark is True else mark,
                    kept_until=time.monotonic() + KEEP_SECONDS,
                    status=answered["status"],
                    headers=list(headers),
                    body=body,
                ),
            )
        return [body]
