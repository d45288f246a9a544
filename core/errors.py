"""Errors every context may raise, and the API edge knows how to answer."""

from django.core.exceptions import ValidationError


class Conflict(ValidationError):
    """The request does not fit the current state of what it acts on (HTTP 409 in the API).

    A ``ValidationError`` still, so forms and other callers that show a refusal to the user
    catch it as one; its ``code`` is the language-neutral reason the API reports.
    """


class QuotaExceeded(Conflict):
    """The user already holds as many of something as they may (HTTP 429 in the API); the
    message says which to give up. A ``Conflict`` still, so forms show it the same way."""
