import uuid

from django.core.management.base import BaseCommand, CommandError

from llm.transcripts import transcript_of_run


class Command(BaseCommand):
    help = "Write a run's recorded LLM answers as a replay transcript (JSON)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("run_id", type=uuid.UUID)
        parser.add_argument("--output", "-o", help="File to write (default: standard output)")

    def handle(self, *args, run_id: uuid.UUID, output: str | None, **options) -> None:
        transcript = transcript_of_run(run_id=run_id)
        if not transcript.responses:
            raise CommandError(f"No recorded LLM answers for run {run_id}.")
        text = transcript.model_dump_json(indent=2, exclude_none=True)
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            self.stderr.write(f"Wrote {len(transcript.responses)} answers to {output}.")
        else:
            self.stdout.write(text)
