"""The agents: plain Python, typed values in and out, no Celery, Channels or vendor SDK.

Each one renders its prompt template (``generation/prompts/``) and asks an LLM gateway
for a typed answer. The pipeline decides when each runs and commits what they return.
"""

from generation.agents.base import LLM, Agent
from generation.agents.roles import (
    Architect,
    BugHunter,
    CodeMonkey,
    Developer,
    SpecWriter,
    TechLead,
)

__all__ = [
    "LLM",
    "Agent",
    "Architect",
    "BugHunter",
    "CodeMonkey",
    "Developer",
    "SpecWriter",
    "TechLead",
]
