"""Odd values to every route and form of the URL map, for each role: no answer is ever a 5xx (issue 14).

For each role (anonymous, reception, practitioner, administrator) the test walks app.url_map. Routes
with ids get the ids of real records (one of each, tests/security/test_routes.py's world). A GET is
sent with odd query strings; a POST with the form its page shows (what a browser would send, with a
valid CSRF token), some of its fields left out or replaced by odd values: missing fields, empty
strings, huge and negative numbers, far dates, NaN, wrong types, control and bidi characters, very
long strings, bytes that are not UTF-8. Hypothesis draws the changes from a fixed seed
(derandomize), a bounded number per route, so the run takes well under a minute and repeats exactly;
a failure names the route and the values, shrunk to the fewest.

A new route is covered without a change here; a new kind of id in a route needs an entry in
test_routes.ID_KIND (that test already demands it for the route matrix).
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import csrf_token
from tests.security.test_hostile_input import browser_submission, parse
from tests.security.test_routes import ADMIN, ANON, PRACTITIONER, RECEPTION, _client_as, _endpoints, world  # noqa: F401, F811  (world: fixture)

# Random changes drawn per route and method (on average). 4 roles x ~90 routes x this, in under 60 s together.
EXAMPLES_PER_ROUTE = 3
BUDGET_SECONDS = 90  # per role: about 25 s for all four on a quiet 2-core machine; a guard against growth, not a benchmark

# Signing out would end the role's session for the routes after it; it takes no values anyway.
SKIP = {("auth.sign_out", "POST")}

MISSING = object()
ODD_VALUES = [
    "", " ", "0", "-1", "1.5", "abc", "99999999999999999999", "1e999", "NaN", "sNaN", "-Infinity",
    "9999-12-31", "0001-01-01", "1899-12-31", "2026-02-30", "31/12/2026", "9999-12-01T00:00", "True", "None", "null",
    "[]", "{}", "['a']", "{'a': 1}", "%ff", "\x00", "\u202eevil\u202c", "\ufeff", "𝟙𝟚", "²", "١٢", "x" * 5000,
    "00000000-0000-0000-0000-000000000000", "../../etc/passwd", "<script>", "'; DROP TABLE patients; --",
]
VALID_FAMILY_NAME = "Blackwood"  # tests/patients/test_patient_views.VALID's
# Names that pages read from the query string, beside those of the forms a page shows.
QUERY_NAMES = ["page", "q", "archived", "date_from", "date_to", "patient", "patient_id", "user", "action", "outcome",
               "version", "kind", "a", "b", "large_print", "next", "moment", "view", "zone", "visit", "plan"]

odd_value = st.one_of(st.sampled_from(ODD_VALUES), st.integers().map(str), st.text(max_size=12))


def _url(rule: str, endpoint: str, records: dict) -> str:
    """The route's address with real ids; any other parameter gets a plain word."""
    from tests.security.test_routes import ID_KIND

    url = rule.replace("<uuid:public_id>", records["ids"][ID_KIND.get(endpoint, "patient")])
    url = url.replace("<kind>", "aftercare").replace("<uuid:source_id>", records["ids"]["session"])
    return re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "1", url)


def _forms_by_action(client, records: dict, app: Flask) -> dict[str, dict[str, list[str]]]:
    """What a browser would post to each address, read from the forms on every page this role can open."""
    found: dict[str, dict[str, list[str]]] = {}
    for endpoint, rule, methods in _endpoints(app):
        if "GET" not in methods:
            continue
        url = _url(rule, endpoint, records)
        response = client.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        for form in parse(response.get_data(as_text=True)).forms:
            if form.method == "post":
                found.setdefault((form.action or url).split("?")[0], browser_submission(form))
    return found


def _valid_bases() -> dict[str, dict[str, list[str]]]:
    """Complete, valid posts for the forms whose page opens blank, so that one odd field reaches the code past validation."""
    from tests.consultations.test_consultations import HEALTHY
    from tests.patients.test_patient_views import VALID
    from tests.plans.test_plans import valid_form

    def lists(data: dict[str, Any]) -> dict[str, list[str]]:
        return {key: [str(v) for v in value] if isinstance(value, list) else [str(value)] for key, value in data.items()}

    plan = {key: value for key, value in valid_form(**{"zones-0-zone": "cheeks"}).items() if not key.startswith(("zones-1", "zones-2"))}
    return {"patients.new": lists(VALID), "consultations.new": lists(HEALTHY), "plans.new": lists(plan)}


def _changes(names: list[str]) -> st.SearchStrategy[list[tuple[str, Any]]]:
    """One to three fields, each left out or given an odd value."""
    field = st.sampled_from(names) if names else st.just("x")
    return st.lists(st.tuples(field, st.one_of(st.just(MISSING), odd_value)), min_size=1, max_size=3)


_posts = iter(range(1, 10**9))


def _assert_no_5xx(client, method: str, url: str, endpoint: str, **kwargs: Any) -> None:
    data = kwargs.get("data")
    if isinstance(data, dict) and data.get("family_name") == [VALID_FAMILY_NAME]:
        # A new name each time: the same patient registered twice is refused as a possible duplicate before
        # the rest of the form is used.
        data["family_name"] = [f"Fuzzington{next(_posts)}"]
    try:
        # A saved post's page is opened too: a value may be taken and break the page that shows it.
        response = client.open(url, method=method, follow_redirects=method == "POST", **kwargs)
    except Exception as exc:  # the app raised: in a browser this is a 500
        raise AssertionError(f"{method} {endpoint} ({url}) raised {type(exc).__name__}: {exc}; sent {kwargs}") from exc
    assert response.status_code < 500, f"{method} {endpoint} ({url}) answered {response.status_code}; sent {kwargs}"


def _odd_for(values: list[str]) -> str:
    """The odd value of a field's kind, judged from what the page put in it."""
    value = values[0] if values else ""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return "9999-12-31"
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return "99999999999999999999"
    return ""  # text: the random changes above give it long and odd strings


FUZZ = settings(deadline=None, database=None, derandomize=True, phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck), print_blob=False)


@pytest.mark.parametrize("who", [ANON, RECEPTION, PRACTITIONER, ADMIN])
def test_no_route_answers_5xx_to_odd_values(app, world, who):  # noqa: F811  (world: the fixture imported above)
    started = time.monotonic()
    client = _client_as(app, world, who)
    token = csrf_token(client, "/sign-in" if who == ANON else "/patients/")
    posted = _forms_by_action(client, world, app)
    bases = _valid_bases()
    routes = [(endpoint, rule, method) for endpoint, rule, methods in _endpoints(app) for method in sorted(methods)
              if (endpoint, method) not in SKIP and method in ("GET", "POST")]
    assert len(routes) > 40

    targets = []
    for endpoint, rule, method in routes:
        url = _url(rule, endpoint, world)
        if method == "GET":
            names = sorted(set(QUERY_NAMES) | set(posted.get(url, {})))
            targets.append((endpoint, url, method, {}, names))
            # Bytes that are not UTF-8, raw and escaped, and a huge page number with a far date.
            for query in ("q=\xff", "%ff=%fe"):
                _assert_no_5xx(client, "GET", url, endpoint, environ_overrides={"QUERY_STRING": query})
            _assert_no_5xx(client, "GET", f"{url}?page=99999999999999999999&date_to=9999-12-31", endpoint)
            continue
        base = {**posted.get(url, {}), **bases.get(endpoint, {})}
        names = sorted(set(base) - {"csrf_token"}) or ["name", "reason", "version"]
        targets.append((endpoint, url, method, base, names))
        # Each field in turn, the rest as the page sent them: left out, and given the odd value of its kind
        # (a far date, a huge number). Random changes (below) rarely leave the rest of a form valid.
        for name in names:
            odd = _odd_for(base.get(name, [""]))
            for value in (MISSING, odd) if odd else (MISSING,):
                data = {key: list(values) for key, values in base.items() if key != name}
                if value is not MISSING:
                    data[name] = [value]
                data["csrf_token"] = [token]
                _assert_no_5xx(client, "POST", url, endpoint, data=data)
        # Every field left out at once, and a body that is not UTF-8.
        _assert_no_5xx(client, "POST", url, endpoint, data={"csrf_token": token})
        _assert_no_5xx(client, "POST", url, endpoint, data=f"csrf_token={token}&name=%ff%fe&version=%ff".encode(),
                       content_type="application/x-www-form-urlencoded")

    # Then Hypothesis: routes drawn in turn, one to three fields of each left out or given odd values.
    @settings(FUZZ, max_examples=EXAMPLES_PER_ROUTE * len(targets))
    @given(data=st.data())
    def odd_values(data):
        endpoint, url, method, base, names = data.draw(st.sampled_from(targets), label="route")
        changes = data.draw(_changes(names), label="changes")
        if method == "GET":
            query = "&".join(f"{quote(name)}={quote(value, safe='')}" for name, value in changes if value is not MISSING)
            _assert_no_5xx(client, "GET", f"{url}?{query}", endpoint)
            return
        sent = {name: list(values) for name, values in base.items()}
        for name, value in changes:
            if value is MISSING:
                sent.pop(name, None)
            else:
                sent[name] = [value]
        sent["csrf_token"] = [token]
        _assert_no_5xx(client, "POST", url, endpoint, data=sent)

    odd_values()
    elapsed = time.monotonic() - started
    assert elapsed < BUDGET_SECONDS, f"the {who} pass took {elapsed:.0f} s; lower EXAMPLES_PER_ROUTE"
