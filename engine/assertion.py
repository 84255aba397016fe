"""Is the finding present? ConText (Chapman et al.) for Bangla, Banglish and English clinical text.

Each entity of a type that carries an assertion (Symptom, Health Condition... as the rules file says) gets
one of :data:`engine.spans.ASSERTIONS`. Trigger phrases cover findings on one side of them: Bangla puts its
negation after the finding ("জ্বর নেই"), English before it ("no fever"). A trigger reaches to the end of its
clause: a sentence end (। ? !), a closing word (কিন্তু, তবে, but), or a comma whose part is more than a list
of findings, so "জ্বর, কাশি বা বমি নেই" negates all three but "কাশি আছে, জ্বর নেই" only the fever.
Pseudo-triggers (নাকি, "দেরি না করে") hold a trigger word yet mean nothing; where phrases overlap the longest
wins. When several triggers cover a finding, the rules' precedence picks one (absent first).

Everything language-specific is data in ``assertion_rules.json``; a clinic can pass its own file.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from engine.spans import ASSERTIONS, PRESENT, Document, Entity
from engine.text import Word, model_form, split_words

if TYPE_CHECKING:
    from engine.assertion_model import AssertionModel

RULES_FILE = Path(__file__).with_name("assertion_rules.json")
SIDES = ("before", "after", "both")
_DASHES = {"—", "–", "-", ":", "(", ")", "/"}


@dataclass(frozen=True)
class Trigger:
    """A phrase (as normalised words) that gives ``assertion`` to findings on its ``side``."""

    words: tuple[str, ...]
    assertion: str
    side: str
    types: frozenset[str] | None = None  # None: every type that carries an assertion


@dataclass(frozen=True)
class Rules:
    types: frozenset[str]
    precedence: tuple[str, ...]
    triggers: tuple[Trigger, ...]
    pseudo: tuple[tuple[str, ...], ...]
    closing: dict[str, frozenset[str]]  # assertion (or "all") -> words that end its scope
    list_words: frozenset[str]
    sentence_ends: frozenset[str]
    clause_marks: frozenset[str]
    # first word -> phrases starting with it, longest first, with their triggers (none for a pseudo-trigger)
    _index: dict[str, list[tuple[tuple[str, ...], list[Trigger]]]] = field(default_factory=dict, repr=False)

    def carries(self, entity_type: str) -> bool:
        return entity_type in self.types


def _norm(word: str) -> str:
    return model_form(word).lower()


def _phrase(text: str, where: str) -> tuple[str, ...]:
    words = tuple(_norm(w.text) for w in split_words(text))
    if not words:
        raise ValueError(f"assertion rules: empty phrase in {where}")
    return words


def parse_rules(data: object, *, source: str = "assertion rules") -> Rules:
    """Check and compile a rules object (the JSON file's content); ValueError says what is wrong and where."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a JSON object with 'types', 'precedence' and 'triggers'")

    def strings(key: str, value: object) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
            raise ValueError(f"{source}: {key!r} must be a list of non-empty strings, got {value!r:.80}")
        return value

    types = frozenset(strings("types", data.get("types")))
    precedence = tuple(strings("precedence", data.get("precedence")))
    unknown = [a for a in precedence if a not in ASSERTIONS or a == PRESENT]
    if unknown:
        raise ValueError(f"{source}: unknown assertion(s) in 'precedence': {unknown}; "
                         f"expected some of {[a for a in ASSERTIONS if a != PRESENT]}")
    triggers: list[Trigger] = []
    raw_triggers = data.get("triggers")
    if not isinstance(raw_triggers, list):
        raise ValueError(f"{source}: 'triggers' must be a list of {{'assertion', 'side', 'phrases'}}")
    for n, group in enumerate(raw_triggers, start=1):
        where = f"trigger group {n}"
        if not isinstance(group, dict):
            raise ValueError(f"{source}: {where} must be an object")
        assertion, side = group.get("assertion"), group.get("side")
        if assertion not in precedence:
            raise ValueError(f"{source}: {where}: assertion {assertion!r} is not in 'precedence' {list(precedence)}")
        if side not in SIDES:
            raise ValueError(f"{source}: {where}: side {side!r} must be one of {list(SIDES)}")
        limited = frozenset(strings(f"{where} types", group["types"])) if "types" in group else None
        for phrase in strings(f"{where} phrases", group.get("phrases")):
            triggers.append(Trigger(_phrase(phrase, where), assertion, side, limited))
    pseudo = tuple(_phrase(p, "pseudo") for p in strings("pseudo", data.get("pseudo", [])))
    raw_closing = data.get("closing_words", {})
    if not isinstance(raw_closing, dict):
        raise ValueError(f"{source}: 'closing_words' must map 'all' or an assertion to a list of words")
    closing = {}
    for key, words in raw_closing.items():
        if key != "all" and key not in precedence:
            raise ValueError(f"{source}: 'closing_words' key {key!r} is neither 'all' nor an assertion")
        closing[key] = frozenset(_norm(w) for w in strings(f"closing_words {key}", words))
    # one phrase may be in several groups ("আগে": past before and after the finding); a pseudo-trigger has none
    by_phrase: dict[tuple[str, ...], list[Trigger]] = {p: [] for p in pseudo}
    for t in triggers:
        if t.words not in pseudo:
            by_phrase.setdefault(t.words, []).append(t)
    index: dict[str, list[tuple[tuple[str, ...], list[Trigger]]]] = {}
    for words, group in by_phrase.items():
        index.setdefault(words[0], []).append((words, group))
    for options in index.values():
        options.sort(key=lambda o: -len(o[0]))
    return Rules(
        types=types, precedence=precedence, triggers=tuple(triggers), pseudo=pseudo, closing=closing,
        list_words=frozenset(_norm(w) for w in strings("list_words", data.get("list_words", []))),
        sentence_ends=frozenset(strings("sentence_ends", data.get("sentence_ends", ["।", "?", "!"]))),
        clause_marks=frozenset(strings("clause_marks", data.get("clause_marks", [","]))),
        _index=index,
    )


def load_rules(path: str | Path | None = None) -> Rules:
    """The rules in ``path`` (default: the bundled ``assertion_rules.json``)."""
    if path is None:
        return _default_rules()
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the assertion rules ({exc})") from exc
    return parse_rules(data, source=str(path))


@lru_cache(maxsize=1)
def _default_rules() -> Rules:
    return load_rules(RULES_FILE)


@dataclass(frozen=True)
class _Match:
    first: int  # word indices [first, last)
    last: int
    trigger: Trigger


def _sentence_ids(text: str, words: Sequence[Word], rules: Rules) -> list[int]:
    """Sentence number of each word; the end mark belongs to the sentence it ends.

    ASCII marks ("." "?") end a sentence only before a space or the end, so "0.5", "?typhoid" and "h/o." stay.
    """
    ids, current = [], 0
    for i, word in enumerate(words):
        if i and "\n" in text[words[i - 1].end:word.start] and "\n" in rules.sentence_ends:
            current += 1
        ids.append(current)
        if word.text in rules.sentence_ends:
            after = text[word.end:word.end + 1]
            if not word.text.isascii() or not after or after.isspace():
                current += 1
    return ids


def _find_triggers(norms: Sequence[str], blocked: Sequence[bool], rules: Rules) -> list[_Match]:
    """Left to right, the longest phrase at each word; pseudo-triggers consume their words and give nothing."""
    found, i = [], 0
    while i < len(norms):
        for words, group in rules._index.get(norms[i], ()):
            j = i + len(words)
            if tuple(norms[i:j]) == words and not any(blocked[i:j]):
                found.extend(_Match(i, j, trigger) for trigger in group)
                i = j
                break
        else:
            i += 1
    return found


@dataclass(frozen=True)
class Cue:
    """A trigger in a finding's sentence: what it says, where it stands, and whether the rules' scope covers it."""

    assertion: str
    side: str  # "before" or "after": where the trigger stands relative to the finding
    distance: int  # words between the trigger and the finding
    same_clause: bool  # no comma-separated part between them
    reaches: bool  # the rules' scope (sentence, closing words, list parts) covers the finding
    words: tuple[str, ...]


@dataclass(frozen=True)
class MentionContext:
    """What one finding's assertion is decided from: its sentence's words, its place, the cues around it."""

    label: str
    sentence: tuple[str, ...]  # normalised words of the finding's sentence
    first: int  # the finding's words in ``sentence``: [first, last)
    last: int
    cues: tuple[Cue, ...]
    rule: str  # the rules' own decision (precedence over the cues that reach)
    sentence_number: int  # 0 for the document's first sentence
    sentence_count: int
    latin: bool  # the document is mostly Latin-script (Banglish or English)


def mention_contexts(text: str, entities: Sequence[Entity], rules: Rules | None = None) -> list[MentionContext | None]:
    """The context of each entity of ``entities`` (in their order); None for types that carry no assertion."""
    rules = rules or _default_rules()
    words = split_words(text)
    if not words or not entities:
        return [None] * len(entities)
    norms = [_norm(w.text) for w in words]
    starts = [w.start for w in words]
    # each entity's words [a, b); a trigger inside an entity ("স্বাদ না পাওয়া") is part of the finding
    spans: list[tuple[int, int]] = []
    in_entity = [False] * len(words)
    for e in entities:
        a = bisect_right(starts, e.start) - 1 if words[0].start <= e.start else 0
        a = a if words[a].end > e.start else a + 1
        b = max(bisect_left(starts, e.end), a + 1)
        spans.append((a, b))
        for k in range(a, min(b, len(words))):
            in_entity[k] = True
    sentence = _sentence_ids(text, words, rules)
    clause, part = [], 0  # comma-separated part number of each word
    for i, w in enumerate(words):
        if i and sentence[i] != sentence[i - 1]:
            part += 1
        clause.append(part)
        if w.text in rules.clause_marks:
            part += 1
    listy: dict[int, bool] = {}  # part -> holds only findings, list words and punctuation
    for i, w in enumerate(words):
        ok = in_entity[i] or norms[i] in rules.list_words or w.text in rules.clause_marks or w.text in _DASHES
        listy[clause[i]] = listy.get(clause[i], True) and ok
    matches = _find_triggers(norms, in_entity, rules)
    closing_all = rules.closing.get("all", frozenset())

    def reaches(m: _Match, a: int, b: int) -> bool:
        if m.last <= a and m.trigger.side in ("before", "both"):
            lo, hi = m.last, a  # words between the trigger and the finding
            parts = range(clause[m.first] + 1, clause[min(b, len(words)) - 1] + 1)
        elif m.first >= b and m.trigger.side in ("after", "both"):
            lo, hi = b, m.first
            parts = range(clause[a], clause[m.first])
        else:
            return False
        if sentence[min(lo, len(words) - 1)] != sentence[m.first] or sentence[a] != sentence[m.first]:
            return False
        closing = closing_all | rules.closing.get(m.trigger.assertion, frozenset())
        if any(norms[k] in closing and not in_entity[k] for k in range(lo, hi)):
            return False
        return all(listy[p] for p in parts)

    latin = sum(w.text.isascii() and w.text.isalpha() for w in words) > sum(
        any("\u0980" <= c <= "\u09ff" for c in w.text) for w in words)
    bounds: dict[int, list[int]] = {}  # sentence -> [first word, end word)
    for i, s in enumerate(sentence):
        bounds.setdefault(s, [i, i])[1] = i + 1
    rank = {a: i for i, a in enumerate(rules.precedence)}
    by_sentence: dict[int, list[_Match]] = {}  # a trigger reaches only its own sentence: long notes stay linear
    for m in matches:
        by_sentence.setdefault(sentence[m.first], []).append(m)
    out: list[MentionContext | None] = []
    for e, (a, b) in zip(entities, spans):
        if not rules.carries(e.label) or a >= len(words):
            out.append(None)
            continue
        b = min(b, len(words))
        lo, hi = bounds[sentence[a]]
        cues = []
        for m in by_sentence.get(sentence[a], ()):
            if m.trigger.types is not None and e.label not in m.trigger.types:
                continue
            if m.last <= a:
                side, distance, near = "before", a - m.last, clause[m.last - 1] == clause[a]
            elif m.first >= b:
                side, distance, near = "after", m.first - b, clause[m.first] == clause[b - 1]
            else:
                continue
            cues.append(Cue(m.trigger.assertion, side, distance, near, reaches(m, a, b), m.trigger.words))
        found = {c.assertion for c in cues if c.reaches}
        out.append(MentionContext(
            # a span reaching past its sentence's end ("জ্বর। কাশি" as one entity) is cut at it
            label=e.label, sentence=tuple(norms[lo:hi]), first=a - lo, last=min(b, hi) - lo, cues=tuple(cues),
            rule=min(found, key=rank.__getitem__) if found else PRESENT, sentence_number=sentence[a],
            sentence_count=sentence[-1] + 1, latin=latin))
    return out


def assertions(text: str, entities: Sequence[Entity], rules: Rules | None = None,
               model: AssertionModel | None = None) -> list[str]:
    """The assertion of each entity of ``entities`` (in their order); types that carry none get "present".

    With ``model`` (the model folder's classifier) a finding is present unless the classifier's evidence for
    another class passes that class's threshold; without, the rules decide alone.
    """
    contexts = mention_contexts(text, entities, rules)
    if model is None:
        return [c.rule if c else PRESENT for c in contexts]
    return model.decide(contexts)


def assert_entities(text: str, entities: Sequence[Entity], rules: Rules | None = None,
                    model: AssertionModel | None = None) -> list[Entity]:
    """``entities`` with their assertion set (by ``model`` when given, else by the rules)."""
    return [replace(e, assertion=a) for e, a in zip(entities, assertions(text, entities, rules, model))]


def per_class_scores(confusion: Counter) -> dict[str, dict[str, float]]:
    """Precision, recall, F1, gold support and times predicted of each class, from (gold, predicted) counts."""
    out = {}
    for cls in ASSERTIONS:
        tp = confusion[(cls, cls)]
        gold = sum(v for (g, _), v in confusion.items() if g == cls)
        predicted = sum(v for (_, p), v in confusion.items() if p == cls)
        precision = tp / predicted if predicted else 0.0
        recall = tp / gold if gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[cls] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                    "support": gold, "predicted": predicted}
    return out


@dataclass
class AssertionScore:
    """Assertion accuracy on gold spans, and per class precision / recall / F1."""

    total: int = 0
    correct: int = 0
    confusion: Counter = field(default_factory=Counter)  # (gold, predicted) -> count
    errors: list[tuple[str, str, str, str]] = field(default_factory=list)  # text, finding, gold, predicted

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def per_class(self) -> dict[str, dict[str, float]]:
        return per_class_scores(self.confusion)

    def as_dict(self) -> dict:
        return {"assertion_mentions": self.total, "assertion_accuracy": round(self.accuracy, 4),
                "assertion_per_class": self.per_class()}


def score_assertions(docs: Iterable[Document], rules: Rules | None = None,
                     model: AssertionModel | None = None) -> AssertionScore:
    """Score assertion on gold spans: each gold entity of a carrying type is asserted in its document and
    compared with its gold assertion, so entity errors don't mix in."""
    rules = rules or _default_rules()
    score = AssertionScore()
    for doc in docs:
        predicted = assertions(doc.text, doc.entities, rules, model)
        for e, p in zip(doc.entities, predicted):
            if not rules.carries(e.label):
                continue
            score.total += 1
            score.correct += e.assertion == p
            score.confusion[(e.assertion, p)] += 1
            if e.assertion != p:
                score.errors.append((doc.text, doc.text[e.start:e.end], e.assertion, p))
    return score
