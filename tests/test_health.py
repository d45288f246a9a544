import pytest
from django.urls import reverse


def test_healthz_answers_without_touching_services(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_200_when_database_and_redis_answer(client):
    response = client.get(reverse("readyz"))
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": True, "redis": True}


@pytest.mark.django_db
def test_readyz_is_503_naming_redis_when_it_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # the discard port: nothing listens
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": True, "redis": False}


@pytest.mark.django_db
def test_readyz_states_that_sandbox_limits_fell_back_to_rlimits(client, settings):
    settings.SAMOKODER_SANDBOX_BACKEND = "bubblewrap"
    settings.SAMOKODER_SANDBOX_CGROUPS = False  # as on a machine without writable cgroups

    response = client.get(reverse("readyz"))

    assert response.status_code == 200  # commands still run, with weaker limits
    sandbox = response.json()["sandbox"]
    assert sandbox["backend"] == "bubblewrap" and sandbox["cgroups"] == ""
    assert "rlimits only" in sandbox["limits"]


@pytest.mark.django_db
def test_readyz_names_the_cgroup_controllers_commands_run_under(client, settings):
    from execution.backends.cgroups import cgroup_support

    support = cgroup_support()
    if support.version == 0:
        pytest.skip(f"no writable cgroups here: {support.reason}")
    settings.SAMOKODER_SANDBOX_BACKEND = "bubblewrap"

    sandbox = client.get(reverse("readyz")).json()["sandbox"]

    assert sandbox["cgroups"] == f"v{support.version}: memory, cpu, pids"
    assert "per-command cgroup" in sandbox["limits"]
