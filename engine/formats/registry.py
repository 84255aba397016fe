"""One registry of file formats: what each is called, its suffixes, how sure its content makes us, its reader
and its writer. Detection, the import and export file dialogs, the Export menu and ``extract`` all derive from it;
a new format is its module plus one :func:`register` call (see ``engine/formats/__init__.py``).

One :class:`Source` goes to every sniffer, to the reader and to the spreadsheet dialog: its head is read once
(MusicBrainz Picard's ``guess_format`` reads a file's head once and asks each format to score it), a file read
whole (a workbook, JSON) once; CSV and JSON Lines are read a line at a time, never held whole.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import FormatError
from engine.limits import MAX_FILE_BYTES
from engine.progress import IsCancelled, Progress
from engine.spans import Document

HEAD_CHARS = 65_536  # what sniffers look at


class Source:
    """One file, read at most once from disk: its bytes, and its text decoded once (UTF-8 or UTF-16).

    A file larger than :data:`engine.limits.MAX_FILE_BYTES` is never read whole: sniffers see its first bytes,
    and readers refuse it by its size.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FormatError(self.path, "no such file")
        self.size = self.path.stat().st_size
        self._raw: bytes | None = None
        self._text: str | None = None
        self._error: FormatError | None = None
        self._head: str | None = None

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()

    @property
    def name(self) -> str:
        return self.path.name

    def raw(self) -> bytes:
        """The file's bytes (a file over the size limit is refused here, naming its size)."""
        if self._raw is None:  # (read again only if asked for after the text was decoded: no reader does that)
            if self.size > MAX_FILE_BYTES:
                raise FormatError(self.path, f"the file is {self.size / 1e6:.0f} MB; at most "
                                             f"{MAX_FILE_BYTES / 1e6:.0f} MB can be read. Split it into smaller files")
            self._raw = self.path.read_bytes()
        return self._raw

    def binary(self) -> io.BytesIO:
        """The bytes as a file object, for zip and workbook readers."""
        return io.BytesIO(self.raw())

    def text(self) -> str:
        """The decoded text; raises :class:`FormatError` (each time) when the bytes are no text."""
        from engine.formats import decode_text

        if self._error is not None:
            raise self._error
        if self._text is None:
            try:
                self._text = decode_text(self.raw(), self.path)
            except FormatError as exc:
                self._error = exc
                raise
            self._raw = None  # the text is what readers of text use from now on: not both in memory
        return self._text

    def head(self) -> str:
        """The first :data:`HEAD_CHARS` characters of the text, or "" for what is no text: for sniffers. Decoded from
        the file's first bytes (as :meth:`text` decodes), so a large file is not read whole to be recognised."""
        if self._head is None:
            if self._text is not None:
                self._head = self._text[:HEAD_CHARS]
                return self._head
            with open(self.path, "rb") as f:
                raw = f.read(_HEAD_BYTES)
            if self.size > MAX_FILE_BYTES:  # never read whole: decode the first bytes leniently
                self._head = raw[:HEAD_CHARS].decode("utf-8", errors="replace")
            elif raw[:4] == b"PK\x03\x04":  # a zip (a workbook): no text to look at
                self._head = ""
            else:
                from engine.formats import decode_text

                if len(raw) < self.size:  # a prefix: no character cut in two at its end
                    raw = raw[:len(raw) // 2 * 2] if _utf16(raw) else _whole_utf8(raw)
                try:
                    self._head = decode_text(raw, self.path)[:HEAD_CHARS]
                except FormatError:
                    self._head = ""
        return self._head

    def lines(self, *, ends: bool = False) -> tuple[int, Iterator[tuple[str, int]]]:
        """The text's lines, each with how far the read is, out of the total returned first: lines ending at "\n"
        only, without it, or (``ends``) as the csv module reads them: at "\r\n", "\n" or a lone "\r", each kept.
        The encoding's byte-order mark is dropped, as :meth:`text` drops it. A UTF-8 file is read from disk a line
        at a time, never whole; others are decoded whole. Undecodable bytes raise :class:`FormatError` as
        :meth:`text` does, possibly after some lines came."""
        if self._text is None and self.size <= MAX_FILE_BYTES:
            with open(self.path, "rb") as f:
                start = f.read(_HEAD_BYTES)
            if not _utf16(start):
                return self.size, self._utf8_lines(with_mark=start.startswith(b"\xef\xbb\xbf"), ends=ends)
        text = self.text()
        return len(text), _universal_lines(text) if ends else text_lines(text)

    def _utf8_lines(self, *, with_mark: bool, ends: bool) -> Iterator[tuple[str, int]]:
        done = 0
        with open(self.path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    if with_mark:
                        raise FormatError(self.path, "not valid UTF-8-SIG text despite its byte-order mark") from None
                    raise FormatError(self.path, f"not valid UTF-8 or UTF-16 text (bad byte at offset "
                                                 f"{done + exc.start})", number) from None
                if "\x00" in line and not with_mark:  # as text() says of a file with NULs that is no UTF-16
                    raise FormatError(self.path, "this looks like a binary file, not text")
                done += len(raw)
                if number == 1 and with_mark:
                    line = line[1:]
                if not ends:
                    yield line[:-1] if line.endswith("\n") else line, done
                    continue
                for piece in _LONE_CR.split(line):
                    if piece:
                        yield piece, done


def text_lines(text: str) -> Iterator[tuple[str, int]]:
    """The lines of ``text`` one at a time (no second copy of a 50 MB file), each with the characters read so far.
    Lines end at "\n" only: a text may hold U+2028, U+0085... which str.splitlines() would cut at."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:], len(text)
            return
        yield text[start:end], end + 1
        start = end + 1


def _universal_lines(text: str) -> Iterator[tuple[str, int]]:
    done = 0
    for line in io.StringIO(text, newline=""):
        done += len(line)
        yield line, done


_LONE_CR = re.compile("(?<=\r)(?!\n)")  # where a line of Excel for Mac (a lone CR) ends


_HEAD_BYTES = 4 * HEAD_CHARS  # enough bytes for HEAD_CHARS characters in any encoding a text file has


def _whole_utf8(raw: bytes) -> bytes:
    """``raw`` without the first bytes of a UTF-8 character the prefix cut."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            return raw[:exc.start]
    return raw


def _utf16(raw: bytes) -> bool:
    """Whether a file starting with ``raw`` is (perhaps) UTF-16: its byte-order mark, or NULs, which UTF-8 text
    never holds."""
    return raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw


@dataclass
class ReadOptions:
    """What a reader may be told: the app's entity types (``Health_Condition`` -> ``Health Condition``), a
    spreadsheet's sheet and text column (None: the reader's guess), and a list for file-level notes."""

    known_types: Collection[str] = ()
    column: str | int | None = None
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)
    # a long read says how far it is (characters of the file: done, total) and stops at the user's Cancel
    progress: Progress | None = None
    cancelled: IsCancelled | None = None


@dataclass(frozen=True)
class WriteOptions:
    model_version: str = ""
    cancelled: IsCancelled | None = None


Sniffer = Callable[[Source], float]
Reader = Callable[[Source, ReadOptions], list[Document]]
Streamer = Callable[[Source, ReadOptions], Iterable[Document]]  # documents one by one, as the file is read
Dumper = Callable[[list[Document], WriteOptions], str]  # a text format's whole file
Writer = Callable[[list[Document], Path, WriteOptions], list | None]  # a binary one's; returns what it left out


@dataclass(frozen=True)
class Format:
    """One file format. ``sniff`` scores a :class:`Source` from 0 (not this) to 1 (certainly this), from its
    name and head; ``read`` gives its documents (``Document.status`` says annotated, suggested or to tag) or
    raises :class:`FormatError`; ``dumps`` (text formats) or ``write`` (others) exports documents; neither: the
    format is only read.

    ``suffixes``: the names it is read under (the first is the one written). ``menu``: the Export menu's words.
    ``reviewed_only``: what the window exports by default (training formats: reviewed documents only).
    ``annotated``: its documents carry entities (:func:`engine.formats.load_documents` reads it); plain text and
    spreadsheets do not. ``table``: rows of a spreadsheet, for which the import dialog asks sheet and column.
    ``importable``: False for formats recognised only to be refused with how to convert them.
    """

    name: str
    title: str
    suffixes: tuple[str, ...]
    sniff: Sniffer
    read: Reader
    dumps: Dumper | None = None
    write: Writer | None = None
    menu: str | None = None
    reviewed_only: bool = True
    annotated: bool = True
    table: bool = False
    importable: bool = True
    menu_key: str | None = None  # the key map's name for the menu entry's shortcut
    write_suffix: str | None = None  # what an export is named, when not the first of ``suffixes``
    # the reader of large files (tables, JSON Lines): documents handed over as they are read, so an import keeps
    # one batch of them in memory, not the file's all; ``read`` is the same read, whole
    stream: Streamer | None = None

    @property
    def export_suffix(self) -> str:
        return self.write_suffix or self.suffixes[0]

    @property
    def exported(self) -> bool:
        return self.dumps is not None or self.write is not None

    def export(self, docs: list[Document], path: Path, options: WriteOptions) -> list:
        """Write ``docs`` to ``path``; returns what the file could not hold (an empty list: everything written)."""
        if self.write is not None:
            return self.write(docs, path, options) or []
        if self.dumps is None:
            raise ValueError(f"{self.title} is read, not written")
        path.write_text(self.dumps(docs, options), encoding="utf-8")
        return []


_FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    """Add ``fmt``; a name registered twice is a mistake."""
    if fmt.name in _FORMATS:
        raise ValueError(f"a format named {fmt.name!r} is registered already")
    if not fmt.suffixes or not all(s.startswith(".") and s == s.lower() for s in fmt.suffixes):
        raise ValueError(f"format {fmt.name!r}: suffixes must be lower-case and start with a dot, got {fmt.suffixes}")
    _FORMATS[fmt.name] = fmt
    return fmt


def unregister(name: str) -> None:
    """Remove a format (tests that register one of their own)."""
    del _FORMATS[name]


def formats() -> list[Format]:
    """Every registered format, in registration order."""
    return list(_FORMATS.values())


def get(name: str) -> Format:
    try:
        return _FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; formats are {', '.join(_FORMATS)}") from None


def writers() -> list[Format]:
    """The formats that export, in registration order (the Export menu's)."""
    return [f for f in _FORMATS.values() if f.exported]


def import_suffixes() -> list[str]:
    """Every suffix a file may be imported under (the import dialog's filter)."""
    return list(dict.fromkeys(s for f in _FORMATS.values() if f.importable for s in f.suffixes))


def export_suffixes() -> list[str]:
    return list(dict.fromkeys(f.export_suffix for f in writers()))


def writer_for(path: Path, name: str | None = None) -> Format:
    """The export format: ``name`` if given, else the first writer whose suffix ``path`` has; ValueError for neither."""
    if name is not None:
        fmt = _FORMATS.get(name)
        if fmt is not None and fmt.exported:
            return fmt
    else:
        for fmt in writers():
            if fmt.export_suffix == path.suffix.lower():
                return fmt
    raise ValueError(f"cannot export to {path.suffix!r}: choose {', '.join(sorted(export_suffixes()))}")


def guess(source: Source) -> Format | None:
    """The format that scores ``source`` highest (the first registered wins a tie), None if none scores above 0."""
    best, best_score = None, 0.0
    for fmt in _FORMATS.values():
        score = fmt.sniff(source)
        if score > best_score:
            best, best_score = fmt, score
    return best


def by_suffix(suffixes: Collection[str], score: float) -> Sniffer:
    """A sniffer that knows a format by its suffix alone."""
    return lambda source: score if source.suffix in suffixes else 0.0


__all__ = ["Dumper", "Format", "ReadOptions", "Reader", "Sniffer", "Source", "Streamer", "text_lines", "WriteOptions", "Writer", "by_suffix", "export_suffixes", "formats", "get",
           "guess", "import_suffixes", "register", "unregister", "writer_for", "writers"]
