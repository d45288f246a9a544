"""Why a preview stopped or failed: a code stored on the preview, a sentence shown to people
in their own language when it is shown (as generation.reasons does for runs)."""

from typing import Any

from django.utils.translation import gettext as _

from core.texts import code_text

NO_SERVER = "no_server"
NEVER_LISTENED = "never_listened"
CRASHED = "crashed"
IDLE = "idle"
REPLACED = "replaced"
STOPPED = "stopped"
LIFETIME = "lifetime"
LOST = "lost"
SANDBOX = "sandbox"
INSTALL_FAILED = "install_failed"
NOT_A_SOCKET = "not_a_socket"
OTHER_DEPENDENCIES = "other_dependencies"
RUN_AT_WORK = "run_at_work"


def _templates() -> dict[str, str]:
    return {
        NO_SERVER: _(
            "This step has no web app to start: the architecture names no run command and "
            "port. Ask for a change such as “serve it as a web page” and preview again."
        ),
        NEVER_LISTENED: _(
            "The app did not open port %(port)s within %(seconds)s seconds, so it was "
            "stopped. Check that it listens on 127.0.0.1:%(port)s (or reads PORT) and look "
            "at its output below."
        ),
        CRASHED: _(
            "The app stopped by itself with exit code %(exit_code)s. Its last lines are "
            "below; fix the code or ask for a change, then restart."
        ),
        IDLE: _("Stopped after %(minutes)s minutes without a request. Start it again to go on."),
        REPLACED: _("Stopped because a newer preview of this project started."),
        STOPPED: _("Stopped at your request."),
        LIFETIME: _("Stopped after running for %(hours)s hours, the longest a preview runs."),
        LOST: _("The worker running this preview stopped. Start the preview again."),
        SANDBOX: _("The sandbox could not start the app: %(detail)s"),
        NOT_A_SOCKET: _(
            "The app left something other than its listening socket where the platform "
            "connects to it (%(detail)s), so it was stopped and never connected to."
        ),
        OTHER_DEPENDENCIES: _(
            "Step %(step)s needs other dependencies than the branch's latest files "
            "(its %(manifest)s differs), and a branch has one set installed. Preview the "
            "latest step, or branch from step %(step)s and run it there."
        ),
        RUN_AT_WORK: _(
            "A run is at work on this project and installs the dependencies it needs; "
            "start the preview once it has finished."
        ),
        INSTALL_FAILED: _(
            "Installing the app's dependencies failed (exit code %(exit_code)s); see the "
            "output below."
        ),
    }


def reason_text(code: str, params: dict[str, Any]) -> str:
    if not code:
        return ""
    text = code_text(_templates(), code, params)
    return text if text is not None else code
