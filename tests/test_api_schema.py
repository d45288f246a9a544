"""Property-based run of the whole JSON API from its own OpenAPI schema: no input gives a 5xx.

Schemathesis reads ``/api/schema/`` and calls every operation in-process through Django's
WSGI handler, signed in as a user who owns one project with one file: its coverage phase
(boundary values, missing and unexpected parameters, undeclared methods) and then
Hypothesis fuzzing with valid and invalid data. Generation is derandomised, so CI sees the
same cases on every run. Run it on PostgreSQL too: it rejects NUL bytes that SQLite stores.
"""

import hashlib
import json
import random
from dataclasses import dataclass

import hypothesis
import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import not_a_server_error

from accounts.models import Provider, User
from accounts.services import key_store
from files.services import file_save
from projects.services import project_create
from tests.accounts.factories import PASSWORD, UserFactory

SEEDED_FILE = "a.txt"

# Loaded at collection so that each operation is a test of its own; the schema view needs
# no database. (`schemathesis.pytest.from_fixture` would load it later, but under pytest
# 9.2 it fails: it sets `Node._nodeid`, which pytest no longer has.)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@dataclass(frozen=True)
class Owner:
    """The signed-in user, and the project, file and key that fuzzed requests aim at."""

    user: User
    project_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {AccessToken.for_user(self.user)}"}

    def real_values(self, rng: random.Random) -> dict[str, object]:
        """Values that get past the 404s and 401s, by the parameter or field they replace."""
        return {
            "project_id": self.project_id,
            "provider": rng.choice(Provider.values),
            "branch": "main",
            "from_branch": "main",
            "email": self.user.email,
            "password": PASSWORD,
            "path": SEEDED_FILE,
            "step": rng.randint(0, 2),
            "from": rng.randint(0, 2),
            "to": rng.randint(0, 2),
            "page": 1,
        }


# Values whose fuzzed form is itself worth sending to a real project stay fuzzed more often.
KEEP_FUZZED_SHARE = {"path": 0.5, "step": 0.5, "from": 0.5, "to": 0.5, "page": 0.5}


@pytest.fixture
def owner(transactional_db, settings) -> Owner:
    # Django's request_finished signal closes a connection that is inside a transaction, as
    # the plain `db` fixture's is: the WSGI handler needs a transactional test database.
    settings.RATELIMIT_ENABLE = False  # a 429 after five calls would hide the handlers
    user = UserFactory.create()
    project = project_create(owner=user, name="Fuzzed")
    file_save(branch=project.branches.get(), path=SEEDED_FILE, text="x")
    key_store(user=user, provider=Provider.OPENAI, api_key="sk-fuzz-0000")
    return Owner(user=user, project_id=str(project.pk))


def _aim_at_owned_data(case, owner: Owner) -> None:
    """Swap most fuzzed ids, names and log-ins for the owner's real ones.

    Random project ids, branch names and log-ins only ever reach the 404 or 401 path. The
    choice is a pure function of the generated case, so a case always becomes the same
    request and Hypothesis can replay and shrink it. (Drawing it with `schema.given` would
    switch off schemathesis' coverage phase, whose cases are fixed at collection.)
    """
    body = case.body if isinstance(case.body, dict | list | str | bytes) else None  # or NOT_SET
    generated = [case.method, case.path_parameters, case.query, body]
    text = json.dumps(generated, sort_keys=True, default=repr, ensure_ascii=True)
    rng = random.Random(hashlib.sha256(text.encode()).digest())  # noqa: S311 (not a secret)
    real = owner.real_values(rng)
    for params in (case.path_parameters, case.query, body if isinstance(body, dict) else None):
        if not params:
            continue
        for name in sorted(real.keys() & params.keys()):
            if rng.random() >= KEEP_FUZZED_SHARE.get(name, 0.25):
                params[name] = real[name]


@schema.parametrize()
@hypothesis.settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_no_request_gives_a_server_error(case, owner: Owner) -> None:
    _aim_at_owned_data(case, owner)
    case.call_and_validate(headers=owner.headers, checks=[not_a_server_error])
