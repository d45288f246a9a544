"""The shared kernel every app may use: domain events, error classes, the provider table,
rate limits, form and API helpers. It imports no app of the project, so the apps'
import graph stays one-way: apps -> core, and samokoder_site (settings, URLs, ASGI,
Celery) wires the apps together on top."""
