"""Reading articles from the corpus folder, and adding new ones to it without duplicates.

Formats: `.txt` / `.md` (paragraphs split on blank lines, optional `---` front matter, or a
`NAME.meta.json` sidecar so a shipped article can stay byte for byte as published) and `.jsonl`
(one article a line: id, title, text, optional url, date, source). HTML character references
left in the text (`&#8212;`, `&amp;`) are decoded as a reader expects (entities.py): paragraphs,
passages and quotes are the decoded text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from retrieval.corpus.entities import decode_entities
from retrieval.errors import CorpusError
from retrieval.index.fsutil import atomic_write
from retrieval.models import Article, article_hash, text_hash

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
SUFFIXES = (*TEXT_SUFFIXES, ".jsonl")
META_SUFFIX = ".meta.json"
META_KEYS = ("title", "source", "url", "date", "author", "updated")
PARAGRAPH_BREAK = re.compile(r"\n[ \t\u00a0\u3000]*(?:\n[ \t\u00a0\u3000]*)+")
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
ID_OK = re.compile(r"^[\w.\-]{1,200}$")
MAX_FILE_BYTES = 512 * 1024 * 1024


def split_paragraphs(text: str) -> tuple[str, ...]:
    """Paragraphs as a reader sees them: entities decoded first (`&#10;&#10;` is a break too)."""
    text = decode_entities(text).replace("\r\n", "\n").replace("\r", "\n")
    return tuple(p.strip() for p in PARAGRAPH_BREAK.split(text) if p.strip())


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CorpusError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB; split it into smaller files")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 and try again") from exc
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read it ({exc.strerror})") from exc
    # Editors on Windows save a BOM and CRLF line ends: neither may reach a quote or hide the
    # front matter.
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def unquote(value: str) -> str:
    """One layer of matching quotes off a front matter value (a title may itself start with one)."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _default_title(stem: str) -> str:
    return re.sub(r"[-_]+", " ", stem).strip().capitalize() or stem


def parse_text_file(path: Path) -> Article:
    raw = _read_text(path)
    meta: dict[str, str] = {}
    body = raw
    m = FRONT_MATTER.match(raw)
    if m:
        for n, line in enumerate(m.group(1).splitlines(), start=2):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, sep, value = line.partition(":")
            if not sep:
                raise CorpusError(f"{path}:{n}: front matter lines look like `title: ...`; got {line.strip()[:60]!r}")
            meta[key.strip().lower()] = unquote(value)
        body = raw[m.end() :]
    sidecar = sidecar_of(path)
    if sidecar.exists():
        try:
            side = json.loads(_read_text(sidecar))
        except ValueError as exc:
            raise CorpusError(f"{sidecar}: not valid JSON ({exc})") from exc
        if not isinstance(side, dict):
            raise CorpusError(f"{sidecar}: must hold a JSON object with title, source, url, date")
        meta = {**{k: str(v) for k, v in side.items() if k in META_KEYS}, **meta}
    paragraphs = split_paragraphs(body)
    if not paragraphs:
        raise CorpusError(f"{path}: no text in it (an article needs at least one paragraph)")
    return Article(
        id=path.stem,
        title=decode_entities(meta.get("title", "")).strip() or _default_title(path.stem),
        paragraphs=paragraphs,
        source=meta.get("source", ""),
        url=meta.get("url", ""),
        date=meta.get("date", ""),
        file=path.name,
        author=meta.get("author", ""),
        updated=meta.get("updated", ""),
    )


def parse_jsonl_file(path: Path) -> list[Article]:
    articles: list[Article] = []
    for n, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise CorpusError(f"{path}:{n}: not valid JSON ({exc.args[0]})") from exc
        if not isinstance(row, dict):
            raise CorpusError(f"{path}:{n}: each line must be a JSON object with id, title and text")
        missing = [k for k in ("id", "title", "text") if not isinstance(row.get(k), str) or not row[k].strip()]
        if missing:
            raise CorpusError(f"{path}:{n}: missing or empty {', '.join(missing)} (each line needs id, title and text)")
        if not ID_OK.match(row["id"]):
            raise CorpusError(f"{path}:{n}: id {row['id'][:60]!r} may only use letters, digits, '.', '-' and '_'")
        paragraphs = split_paragraphs(row["text"])
        articles.append(
            Article(
                id=row["id"],
                title=decode_entities(row["title"]).strip() or row["title"].strip(),
                paragraphs=paragraphs,
                source=str(row.get("source") or ""),
                url=str(row.get("url") or ""),
                date=str(row.get("date") or ""),
                file=path.name,
                author=str(row.get("author") or ""),
            )
        )
    return articles


def parse_file(path: Path) -> list[Article]:
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return [parse_text_file(path)]
    if suffix == ".jsonl":
        return parse_jsonl_file(path)
    raise CorpusError(f"{path}: unsupported file type {suffix or '(none)'}; use .txt, .md or .jsonl")


def corpus_files(corpus_dir: Path) -> list[Path]:
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist; create it or set QUOTEQA_CORPUS_DIR")
    return sorted(
        p for p in corpus_dir.iterdir()
        if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
    )  # fmt: skip


def sidecar_of(path: Path) -> Path:
    return path.with_name(path.name[: -len(path.suffix)] + META_SUFFIX)


def file_stamp(path: Path) -> list[int]:
    """Size and modification time of a corpus file and of its metadata sidecar: when they are
    unchanged the file is not read again (as git trusts its index), so opening a large corpus
    costs a `stat` per file, not a hash of every byte."""
    st = path.stat()
    stamp = [st.st_size, st.st_mtime_ns, -1, -1]
    try:
        side = sidecar_of(path).stat()
        stamp[2:] = [side.st_size, side.st_mtime_ns]
    except OSError:
        pass
    return stamp


def file_digest(path: Path) -> str:
    """SHA-1 of a corpus file (and of its metadata sidecar, after a '+')."""
    digest = hashlib.sha1(path.read_bytes()).hexdigest()
    sidecar = sidecar_of(path)
    if sidecar.exists():
        digest += "+" + hashlib.sha1(sidecar.read_bytes()).hexdigest()
    return digest


@dataclass(frozen=True, slots=True)
class ArticleKey:
    """What is remembered of each article of a corpus file, to skip re-reading unchanged files."""

    id: str
    hash: str  # article_hash
    text: str  # text_hash
    file: str


def article_key(article: Article) -> ArticleKey:
    return ArticleKey(article.id, article_hash(article), text_hash(article), article.file)


def load_corpus(corpus_dir: Path) -> list[Article]:
    """Every article in the folder; duplicate ids across files are an error naming both files."""
    seen: dict[str, Article] = {}
    for path in corpus_files(corpus_dir):
        for art in parse_file(path):
            if not art.paragraphs:
                continue
            prior = seen.get(art.id)
            if prior is not None and article_hash(prior) != article_hash(art):
                raise CorpusError(
                    f"article id {art.id!r} is in both {prior.file} and {art.file} with different text; rename one"
                )
            seen.setdefault(art.id, art)
    return list(seen.values())


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # already in the corpus, byte for byte
    updated: list[str] = field(default_factory=list)  # same text, corrected citation data
    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # corpus files the index sync skipped, and why
    ignored: list[Path] = field(default_factory=list)  # files in the given folders of no known format


INPUT_SKIP = (META_SUFFIX, ".raw.html")  # read along with their article, never on their own


def scan_paths(paths: Iterable[Path], suffixes: Sequence[str] = SUFFIXES) -> tuple[list[Path], list[Path]]:
    """The files to read (folders searched recursively) and the files in those folders that
    are of no format we read, so a report can name every one of them."""
    out: list[Path] = []
    ignored: list[Path] = []
    for p in paths:
        if p.is_dir():
            for q in sorted(p.rglob("*")):
                if not q.is_file() or q.name.startswith(".") or q.name.endswith(INPUT_SKIP):
                    continue
                (out if q.suffix.lower() in suffixes else ignored).append(q)
        elif not p.exists():
            raise CorpusError(f"{p}: no such file")
        else:
            out.append(p)
    return out, ignored


class KnownArticles(Protocol):
    """What is in the corpus already, asked one article at a time (an index answers it without
    listing every article)."""

    def by_id(self, article_id: str) -> ArticleKey | None: ...

    def by_text(self, text: str) -> str | None:
        """The id of an article with this text hash."""


@dataclass
class KeyTable:
    """`KnownArticles` over a plain list of keys."""

    keys: Iterable[ArticleKey]

    def __post_init__(self) -> None:
        self._ids: dict[str, ArticleKey] = {}
        for k in self.keys:
            self._ids.setdefault(k.id, k)
        self._texts = {k.text: k.id for k in self._ids.values()}

    def by_id(self, article_id: str) -> ArticleKey | None:
        return self._ids.get(article_id)

    def by_text(self, text: str) -> str | None:
        return self._texts.get(text)


def ingest(paths: Sequence[Path], corpus_dir: Path, known: KnownArticles | None = None) -> IngestReport:
    """Validate every file first, then write; a broken file means nothing at all is added, and
    every broken file is named (not just the first).

    `known` says what the corpus holds (the index answers it); without it the folder is read.
    """
    corpus_dir.mkdir(parents=True, exist_ok=True)
    table = known if known is not None else KeyTable(map(article_key, load_corpus(corpus_dir)))
    existing: dict[str, ArticleKey] = {}  # what this batch adds, checked before the corpus
    existing_text: dict[str, str] = {}
    report = IngestReport()
    plans: list[tuple[Path, Path, list[Article]]] = []
    corrections: list[tuple[Article, ArticleKey, Path]] = []
    errors: list[str] = []
    files, report.ignored = scan_paths(paths)
    for path in files:
        if path.name.endswith(META_SUFFIX):
            continue
        try:
            fresh = _plan_file(path, corpus_dir, table, existing, existing_text, report, corrections)
        except CorpusError as exc:
            errors.append(str(exc))
            continue
        if fresh:
            plans.append((path, corpus_dir / path.name, fresh))
    if errors:
        more = f" ({len(errors)} files)" if len(errors) > 1 else ""
        raise CorpusError("nothing was added; fix these and ingest again" + more + ":\n  " + "\n  ".join(errors))
    for path, target, fresh in plans:
        if path.suffix.lower() in TEXT_SUFFIXES:
            sidecar = sidecar_of(path)
            if sidecar.exists():  # the sidecar first: the article must never be read without it
                atomic_write(corpus_dir / sidecar.name, sidecar.read_bytes())
            atomic_write(target, path.read_bytes())
        else:
            old = target.read_bytes() if target.exists() else b""
            if old and not old.endswith(b"\n"):
                old += b"\n"
            lines = "".join(json.dumps(_jsonl_row(a), ensure_ascii=False) + "\n" for a in fresh)
            atomic_write(target, old + lines.encode("utf-8"))
        report.added.extend(a.id for a in fresh)
        report.written.append(target)
    for art, prior, path in corrections:
        report.written.append(_correct(art, prior, path, corpus_dir))
        report.updated.append(art.id)
    return report


def _plan_file(
    path: Path,
    corpus_dir: Path,
    table: KnownArticles,
    existing: dict[str, ArticleKey],
    existing_text: dict[str, str],
    report: IngestReport,
    corrections: list[tuple[Article, ArticleKey, Path]],
) -> list[Article]:
    """The articles of one input file that are new; unchanged ones go to the report, and an
    article already stored with the same text but other citation data goes to `corrections`."""
    fresh: list[Article] = []
    for art in parse_file(path):
        prior = existing.get(art.id) or table.by_id(art.id)
        key = article_key(art)
        if prior is not None:
            if prior.hash == key.hash:
                report.unchanged.append(art.id)
            elif prior.text == key.text:
                if prior.file and (corpus_dir / prior.file).exists():
                    corrections.append((art, prior, path))
                else:
                    report.unchanged.append(art.id)
            else:
                raise CorpusError(
                    f"{path}: article id {art.id!r} is already in the corpus ({prior.file}) with different text; "
                    "remove it first (quoteqa remove ID) to replace it, or give this one another id"
                )
            continue
        same_text = existing_text.get(key.text) or table.by_text(key.text)
        if same_text is not None:
            report.unchanged.append(same_text)
            continue
        existing[art.id] = key
        existing_text[key.text] = art.id
        fresh.append(art)
    if fresh and path.suffix.lower() in TEXT_SUFFIXES and (corpus_dir / path.name).exists():
        raise CorpusError(f"{path}: a different file named {path.name} is already in the corpus; rename it")
    return fresh


def _correct(art: Article, prior: ArticleKey, source: Path, corpus_dir: Path) -> Path:
    """Write an article's corrected citation data into the corpus file that holds it."""
    target = corpus_dir / prior.file
    if source.suffix.lower() in TEXT_SUFFIXES and target.suffix.lower() in TEXT_SUFFIXES:
        sidecar = sidecar_of(source)
        if sidecar.exists():
            atomic_write(sidecar_of(target), sidecar.read_bytes())
        atomic_write(target, source.read_bytes())  # the new file as given, byte for byte
        return target
    if target.suffix.lower() == ".jsonl":
        rows = []
        for line in _read_text(target).splitlines():
            if line.strip():
                row = json.loads(line)
                rows.append(_jsonl_row(art) if isinstance(row, dict) and row.get("id") == art.id else row)
        atomic_write(target, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"))
        return target
    meta = {"title": art.title, "source": art.source, "url": art.url, "date": art.date, "author": art.author}
    sidecar = sidecar_of(target)
    if sidecar.exists():  # a sidecar keeps the text byte for byte: correct it there
        side = json.loads(_read_text(sidecar))
        side.update({k: v for k, v in meta.items() if v or k in side})
        atomic_write(sidecar, (json.dumps(side, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
        return sidecar
    head = "".join(f'{k}: "{v}"\n' for k, v in meta.items() if v)
    atomic_write(target, f"---\n{head}---\n\n{art.text}\n".encode())
    return target


def remove_article(corpus_dir: Path, file: str, article_id: str) -> None:
    """Delete an article's corpus file (with its sidecar and raw page), or its line of a
    .jsonl file that holds others too."""
    path = corpus_dir / file
    if path.suffix.lower() == ".jsonl" and path.exists():
        lines = _read_text(path).splitlines()
        keep = [line for line in lines if line.strip() and _row_id(line) != article_id]
        if keep:
            atomic_write(path, "".join(line + "\n" for line in keep).encode("utf-8"))
            return
    for extra in (sidecar_of(path), path.with_suffix(".raw.html")):
        extra.unlink(missing_ok=True)
    path.unlink(missing_ok=True)


def _row_id(line: str) -> object:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row.get("id") if isinstance(row, dict) else None


def _jsonl_row(a: Article) -> dict[str, str]:
    row = {"id": a.id, "title": a.title, "text": a.text}
    row.update({k: getattr(a, k) for k in ("source", "url", "date", "author") if getattr(a, k)})
    return row
