"""The targets step: which symbol sequence an utterance gives a model, the symbol table that
numbers those symbols, and the phone set scoring folds to.

A :class:`Targets` holds all three for one model. Its unit says what the symbols are:

- ``"phones"``: the utterance's phone labels as the corpus gives them, folded to the recipe's
  ``phone_set`` (TIMIT labels get the standard table of their set, any other inventory its own);
- ``"chars"``: the characters of the utterance's text (handwriting), a word gap being
  :data:`SPACE`; characters outside the table follow the recipe's ``unknown_chars``.

Training builds it from the recipe and the training utterances (:meth:`Targets.for_training`);
evaluation and the commands that load a model read it back from the bundle
(:meth:`Targets.of_bundle`).

Speech utterances with only a word transcript get their phones from a pronunciation lexicon
(``[data] lexicon`` and ``lexicon_style``, :mod:`lstmrec.lexicon`): an utterance with a word no
source knows is skipped and the words are named. Their references for scoring are the same
lexicon phones without the silence labels the style adds (``h#``, closures), and silences are
removed from the hypotheses of those utterances too: a dictionary cannot say where a speaker
paused. Speech models can also write characters (``[data] unit = "chars"``): the transcript's
words in lower case (:func:`lstmrec.lexicon.words`).

The text of a model of characters first goes through the recipe's ``text_normalization``
(:mod:`lstmrec.textnorm`, e.g. IAM-OnDB's ``Mr .`` spacing), for targets and references alike.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Sequence

from lstmrec.bundle import Bundle
from lstmrec.config import DataConfig, Recipe
from lstmrec.features.errors import DataError, OnError, report_or_raise
from lstmrec.lexicon import Lexicon, is_timit_inventory, words
from lstmrec.manifest import Utterance
from lstmrec.phones import PHONES39, PHONES48, TIMIT61, SymbolTable, fold
from lstmrec.textnorm import normalize_text, resolve_normalization

UNITS = ("phones", "chars")  # what a model's symbols are (see the module docstring)
ENGLISH_CHARS = "abcdefghijklmnopqrstuvwxyz' "  # the characters of speech models by default
SPACE = "<space>"  # the symbol of a word gap (symbols.txt holds one name a line, no white space)
# TIMIT labels that fold to "sil" at 39 phones: edge silence, pauses and stop closures
SILENCES = frozenset(p for p in TIMIT61 if fold([p], 39) == ["sil"]) | {"sil"}


def modality(features) -> str:
    """``"ink"`` for ink feature settings, else ``"speech"``."""
    return "ink" if getattr(features, "kind", None) == "ink" else "speech"


def label_kind(features) -> str:
    """The default unit of a model with these feature settings: ``"chars"`` for ink features
    (targets: the text's characters), else ``"phones"`` (``[data] unit`` may say otherwise)."""
    return "chars" if modality(features) == "ink" else "phones"


def utterance_symbols(
    utt: Utterance,
    unit: str,
    *,
    phone_set: int = 61,
    lexicon: Lexicon | None = None,
    speech: bool = False,
    normalization: str = "none",
) -> list[str]:
    """The utterance's symbols in ``unit``, before any symbol table: its phones folded to
    ``phone_set`` (:func:`utterance_labels`; from ``lexicon`` when it has only words) or its
    text's characters (:func:`utterance_chars`; a ``speech`` transcript's words in lower case),
    the text first normalised (``normalization``: :func:`lstmrec.textnorm.normalize_text`).
    :class:`DataError` when it has none (:class:`CorpusGap` when the normalisation leaves the
    line out)."""
    if unit == "phones":
        if not utt.phones and lexicon is not None:
            return lexicon_labels(utt, lexicon, phone_set)
        return utterance_labels(utt, phone_set)
    if unit == "chars":
        if utt.text and normalization != "none":
            text = normalize_text(utt.text, normalization, name=f"utterance {utt.id}",
                                  path=utt.path)  # fmt: skip
            utt = dataclasses.replace(utt, text=text)
        if speech:
            return utterance_chars(dataclasses.replace(utt, text=" ".join(words(utt.text or ""))))
        return utterance_chars(utt)
    raise ValueError(f"unit {unit!r} must be one of {', '.join(UNITS)}")


def lexicon_labels(utt: Utterance, lexicon: Lexicon, phone_set: int) -> list[str]:
    """The lexicon phones of the utterance's transcript, folded to ``phone_set`` when they are
    TIMIT labels. :class:`DataError` naming the utterance and the words no source knows."""
    if not (utt.text or "").strip():
        raise DataError(f"utterance {utt.id} has no phone labels and no transcript", utt.path)
    try:
        phones = lexicon.phones(utt.text, source=utt.path)
    except DataError as e:
        raise DataError(f"utterance {utt.id}: {e.reason}", utt.path) from None
    if phone_set == 61 or not is_timit_inventory(phones):
        return phones
    return fold(phones, phone_set, source=utt.path)


@dataclasses.dataclass(frozen=True)
class Targets:
    """How one model's utterances become symbol sequences, and how they are scored."""

    unit: str  # one of UNITS
    symbols: SymbolTable  # numbers the symbols; class 0 is the CTC blank
    phone_set: int = 61  # "phones": the set the labels are folded to (61: as labelled)
    fold: int | None = None  # phone set both sides are folded to for scoring; None: as they are
    # "chars": a character outside the table is dropped ("drop"), its utterance skipped
    # ("skip"), or it becomes this single replacement character
    unknown_chars: str = DataConfig.unknown_chars
    # "phones" of utterances with only words: the lexicon sources and style (lstmrec.lexicon)
    lexicon: tuple[str, ...] = ()
    lexicon_style: str = DataConfig.lexicon_style
    speech: bool = True  # the model hears audio (characters are then a transcript's words)
    # "chars": lstmrec.textnorm's rules the text goes through first ("iam_ondb" or "none")
    text_normalization: str = "none"

    @classmethod
    def for_training(cls, recipe: Recipe, utts: Iterable[Utterance]) -> Targets:
        """The targets ``recipe`` trains on: the symbol table of the training utterances' labels
        (or of ``[data] charset``) and the scoring fold. Utterances without labels are passed
        over here; :meth:`sequences` reports them."""
        data = recipe.data
        speech = modality(recipe.features) == "speech"
        unit = data.unit or label_kind(recipe.features)
        norm = resolve_normalization(data.text_normalization, ink=not speech)
        proto = cls(unit, SymbolTable(()), data.phone_set, None, data.unknown_chars,
                    data.lexicon, data.lexicon_style, speech, norm)  # fmt: skip
        seqs = []
        for utt in utts:
            try:
                seqs.append(proto.symbols_of(utt))
            except DataError:
                continue
        if unit == "chars":
            charset = data.charset if data.charset or not speech else ENGLISH_CHARS
            symbols, fold_to = char_table(seqs, charset), None
        else:
            symbols = symbol_table_for(seqs, data.phone_set)
            fold_to = scoring_fold(symbols, data.score_phone_set)
        return dataclasses.replace(proto, symbols=symbols, fold=fold_to)

    @classmethod
    def of_bundle(cls, bundle: Bundle, *, lexicon: Sequence[str] | None = None) -> Targets:
        """The targets ``bundle`` was trained with (settings a bundle predates: their defaults);
        ``lexicon`` replaces the lexicon sources of its recipe. A bundle from before
        ``text_normalization`` was trained on the texts as they were ("none")."""
        data = bundle.summary.get("recipe", {}).get("data", {})
        speech = modality(bundle.features) == "speech"
        try:
            norm = resolve_normalization(data.get("text_normalization", "none"), ink=not speech)
        except ValueError as e:  # a hand-edited summary.json
            raise DataError(f"bad [data] settings in the model's summary.json ({e})") from None
        return cls(
            data.get("unit") or label_kind(bundle.features),
            bundle.symbols,
            data.get("phone_set", DataConfig.phone_set),
            bundle.summary.get("score_phone_set"),
            data.get("unknown_chars", DataConfig.unknown_chars),
            tuple(lexicon if lexicon is not None else data.get("lexicon") or ()),
            data.get("lexicon_style", DataConfig.lexicon_style),
            speech,
            norm,
        )

    @functools.cached_property
    def _known(self) -> set[str]:
        """The table's symbols, for membership tests."""
        return set(self.symbols.symbols)

    @functools.cached_property
    def lexicon_object(self) -> Lexicon | None:
        """The :class:`Lexicon` of :attr:`lexicon` (read on first use), or None without one."""
        return Lexicon(self.lexicon, style=self.lexicon_style) if self.lexicon else None

    def require_lexicon(self, utts: Sequence[Utterance]) -> None:
        """Read the lexicon now when some of ``utts`` need it (words, no phones): one that
        cannot be read raises :class:`DataError` once, naming it, instead of failing each
        utterance."""
        if not (self.unit == "phones" and self.lexicon and any(not u.phones for u in utts)):
            return
        try:
            _ = self.lexicon_object
        except DataError as e:
            raise DataError(
                f"{e.reason} (the lexicon gives the phones of utterances with words; "
                "name one: [data] lexicon, --pron-lexicon, or lexicon= in Python)",
                e.path,
            ) from None

    def symbols_of(self, utt: Utterance) -> list[str]:
        """:func:`utterance_symbols` of ``utt`` with these settings (before the table)."""
        lexicon = self.lexicon_object if self.unit == "phones" and not utt.phones else None
        return utterance_symbols(
            utt,
            self.unit,
            phone_set=self.phone_set,
            lexicon=lexicon,
            speech=self.speech,
            normalization=self.text_normalization,
        )

    def words_only_hint(self, utts: Iterable[Utterance]) -> str:
        """For a phone model without a lexicon: ``"; N utterance(s) have words but no phone
        labels: ..."``, saying how to get phones from the words or to train on characters;
        ``""`` when no utterance is like that."""
        if self.unit != "phones" or self.lexicon:
            return ""
        n = sum(1 for u in utts if not u.phones and (u.text or "").strip())
        if not n:
            return ""
        return (
            f"; {n} utterance{'s' if n > 1 else ''} {'have' if n > 1 else 'has'} words but no "
            "phone labels: give a pronunciation lexicon ([data] lexicon, e.g. --set "
            """'data.lexicon=["DIR/lexicon.txt", "cmudict"]'), or train on characters """
            "(--set data.unit=chars)"
        )

    def from_lexicon(self, utt: Utterance) -> bool:
        """Whether ``utt``'s phones come from the lexicon (it has words but no phone labels)."""
        return self.unit == "phones" and not utt.phones and bool(self.lexicon)

    def scored(self, utt: Utterance, hypothesis: Sequence[str]) -> list[str]:
        """A hypothesis as scored against ``utt``'s reference: without silences when the
        reference came from the lexicon (see the module docstring), else as it is."""
        if self.from_lexicon(utt):
            return [s for s in hypothesis if s not in SILENCES]
        return list(hypothesis)

    def sequence(self, utt: Utterance, *, log: Callable[[str], None] | None = None) -> list[str]:
        """The symbols ``utt`` is trained on, every one in the table.

        Raises :class:`DataError` naming the utterance when it has no labels, when ``"skip"``
        meets a character outside the table, or when no character is left. A character dropped
        or replaced is reported to ``log`` in one line, so none is ever lost silently.
        """
        symbols = self.symbols_of(utt)
        if self.unit == "chars":
            symbols, note = apply_unknown_policy(utt, symbols, self._known, self.unknown_chars)
            if note and log is not None:
                log(note)
            if not symbols:
                raise DataError(f"utterance {utt.id}: no characters left", utt.path)
        return symbols

    def sequences(
        self,
        utts: Iterable[Utterance],
        *,
        on_error: OnError | None = None,
        log: Callable[[str], None] | None = None,
    ) -> dict[str, list[str]]:
        """``{id: symbols}`` (:meth:`sequence`) of the utterances that have them; the others go
        to ``on_error``, or raise when it is None."""
        out = {}
        for utt in utts:
            try:
                out[utt.id] = self.sequence(utt, log=log)
            except DataError as e:
                report_or_raise(e, on_error)
        return out

    def reference(self, utt: Utterance) -> list[str]:
        """What a hypothesis of ``utt`` is scored against: its phones as labelled (scoring folds
        both sides to :attr:`fold`), or its text's characters, every one of which must be in
        the table (the model could never write another). :class:`DataError` otherwise."""
        if self.from_lexicon(utt):
            phones = lexicon_labels(utt, self.lexicon_object, 61)
            return [p for p in phones if p not in SILENCES]
        if self.unit == "phones":
            return utterance_labels(utt, 61)
        symbols = self.symbols_of(utt)
        unknown = sorted({symbols_text([s]) for s in symbols if s not in self._known})
        if unknown:
            shown = " ".join(map(repr, unknown))
            raise DataError(
                f"utterance {utt.id}: reference characters not in the model's symbol table: "
                f"{shown}",
                utt.path,
            )
        return symbols

    def references(
        self, utts: Iterable[Utterance], *, on_error: OnError | None = None
    ) -> dict[str, list[str]]:
        """``{id: symbols}`` (:meth:`reference`) of the utterances that have them; the others go
        to ``on_error``, or raise when it is None."""
        out = {}
        for utt in utts:
            try:
                out[utt.id] = self.reference(utt)
            except DataError as e:
                report_or_raise(e, on_error)
        return out


# ---------------------------------------------------------------------------------------------
# Phones: the labels of a speech model are the utterance's phones.


def utterance_labels(utt: Utterance, phone_set: int) -> list[str]:
    """The utterance's phones, folded to ``phone_set`` (61 keeps them as they are)."""
    if not utt.phones:
        words_only = ", only a word transcript" if (utt.text or "").strip() else ""
        raise DataError(f"utterance {utt.id} has no phone labels{words_only}", utt.path)
    if phone_set == 61:
        return list(utt.phones)
    return fold(utt.phones, phone_set, source=utt.path)


def symbol_table_for(labels: Sequence[Sequence[str]], phone_set: int) -> SymbolTable:
    """The symbol table for training labels.

    TIMIT labels get the standard table of their phone set (so every TIMIT model has the same
    class order); any other label inventory gets its own symbols, sorted.
    """
    seen = {p for seq in labels for p in seq}
    standard = {61: TIMIT61, 48: PHONES48, 39: PHONES39}[phone_set]
    if seen <= set(standard):
        return SymbolTable(standard)
    return SymbolTable(sorted(seen))


def scoring_fold(symbols: SymbolTable, score_phone_set: int | None) -> int | None:
    """The phone set to fold to before scoring, or None when the symbols are not TIMIT phones."""
    if score_phone_set is None or not set(symbols.symbols) <= set(TIMIT61) | set(PHONES48):
        return None
    return score_phone_set


# ---------------------------------------------------------------------------------------------
# Characters (handwriting): the labels of an ink model are the characters of the text.


def text_symbols(text: str) -> list[str]:
    """Characters of ``text`` as symbols: each run of white space is one :data:`SPACE`, leading
    and trailing white space is dropped, every other character is its own symbol."""
    return [SPACE if c == " " else c for c in " ".join(text.split())]


def symbols_text(symbols: Sequence[str]) -> str:
    """Inverse of :func:`text_symbols`: symbols joined, :data:`SPACE` back to ``" "``."""
    return "".join(" " if s == SPACE else s for s in symbols)


def text_words(text: str) -> list[str]:
    """The words of a text for WER: its space-separated tokens."""
    return text.split()


def utterance_chars(utt: Utterance) -> list[str]:
    """The symbols of the utterance's text; :class:`DataError` when it has none."""
    symbols = text_symbols(utt.text or "")
    if not symbols:
        raise DataError(f"utterance {utt.id} has no text", utt.path)
    return symbols


def char_table(label_seqs: Sequence[Sequence[str]], charset: str | None) -> SymbolTable:
    """The character table: ``charset``'s characters (a space gives :data:`SPACE`), or every
    symbol of the training texts; sorted, so equal inventories number classes alike."""
    if charset is not None:
        return SymbolTable(
            sorted(set(text_symbols(charset)) | ({SPACE} if " " in charset else set()))
        )
    return SymbolTable(sorted({s for seq in label_seqs for s in seq}))


def apply_unknown_policy(
    utt: Utterance, symbols: list[str], known: set[str], policy: str
) -> tuple[list[str], str | None]:
    """Handle symbols outside ``known``: ``"drop"`` removes them, a single character replaces
    them, ``"skip"`` raises :class:`DataError` naming the utterance.

    Returns the new symbols and a one-line note naming the utterance and the characters (None
    when every symbol is known), so no character is ever dropped silently.
    """
    unknown = sorted({s for s in symbols if s not in known})
    if not unknown:
        return symbols, None
    shown = " ".join(repr(symbols_text([s])) for s in unknown)
    if policy == "skip":
        raise DataError(
            f"utterance {utt.id}: characters not in the symbol table: {shown}", utt.path
        )
    if policy == "drop":
        return [s for s in symbols if s in known], f"utterance {utt.id}: dropped {shown}"
    replacement = text_symbols(policy)[0] if policy.strip() else SPACE
    note = f"utterance {utt.id}: mapped {shown} to {policy!r}"
    return [s if s in known else replacement for s in symbols], note
