from django.utils import translation

from execution.events import ChangesRefused


def test_a_refused_change_reads_in_the_readers_language():
    files = ChangesRefused(project_id="p", command="npm ci", kind="files", limit=2000)
    size = ChangesRefused(project_id="p", command="npm ci", kind="bytes", limit=50_000_000)

    with translation.override("ru"):
        assert files.message().startswith("«npm ci» создала больше 2000 файлов")
        assert "больше 50000000 байт" in size.message()
    with translation.override("en"):
        assert files.message().startswith("“npm ci” created more than 2000 files")
        assert "more than 50000000 bytes" in size.message()
