"""The six agents of the pipeline (DESIGN.md, the generation pipeline).

The Executor is not here: running a command needs no LLM, so the pipeline calls the
execution context directly for it.
"""

from generation.agents.base import Agent
from generation.schemas import Architecture, FileWrite, Fix, SpecAnswer, StepPlan, TaskPlan


class SpecWriter(Agent):
    name = "SpecWriter"
    role = "specification writer"
    duty = "You turn a user's description into clear requirements, asking only what you must."
    template = "spec_writer.txt"
    answer = SpecAnswer


class Architect(Agent):
    name = "Architect"
    role = "software architect"
    duty = "You choose the structure and files of the application, within what the sandbox runs."
    template = "architect.txt"
    answer = Architecture


class TechLead(Agent):
    name = "TechLead"
    role = "tech lead"
    duty = "You split the work into epics and small, ordered tasks."
    template = "tech_lead.txt"
    answer = TaskPlan


class Developer(Agent):
    name = "Developer"
    role = "developer"
    duty = "You plan the concrete steps of one task: files to write and commands to run."
    template = "developer.txt"
    answer = StepPlan


class CodeMonkey(Agent):
    name = "CodeMonkey"
    role = "programmer"
    duty = "You write one complete file."
    template = "code_monkey.txt"
    answer = FileWrite


class BugHunter(Agent):
    name = "BugHunter"
    role = "debugger"
    duty = "You find why a command failed and return the files that fix it."
    template = "bug_hunter.txt"
    answer = Fix
