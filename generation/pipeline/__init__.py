"""The pipeline a worker runs, one module per job.

- ``runner``: the loop (guard, next action, handler, commit) and the handler table;
- ``work``: what a handler works with (``StepWork``) and how it stops the run;
- ``planning`` / ``executing``: the handlers, one function per action kind;
- ``agent_calls``: asking an agent for a typed answer through the LLM gateway;
- ``heartbeat``: the thread that beats for the run and notices a stop.
"""
