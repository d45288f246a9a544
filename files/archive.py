"""A zip of a project at one step, streamed as it is built (no temporary file)."""

import io
import zipfile
from collections.abc import Iterable, Iterator


class _Chunks(io.RawIOBase):
    """A write-only stream that hands over what was written since the last drain.

    It cannot seek, so zipfile writes data descriptors after each entry instead of
    going back to patch the headers, which is what lets the archive stream.
    """

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def drain(self) -> Iterator[bytes]:
        chunks, self._chunks = self._chunks, []
        yield from chunks


def zip_stream(entries: Iterable[tuple[str, str]]) -> Iterator[bytes]:
    """Yield a zip archive of ``(name, text)`` entries, piece by piece."""
    sink = _Chunks()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in entries:
            archive.writestr(name, text)
            yield from sink.drain()
    yield from sink.drain()
