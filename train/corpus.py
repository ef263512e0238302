"""The corpus index: which clips exist, who speaks in them and what they feel, from names alone.

tonecue trains on acted English speech from four public corpora. Each encodes speaker and emotion
in its file names, and each has its own layout and quirks. This module walks a folder, recognises
each corpus's names (and the Kaggle bundle "speech-emotion-recognition-en" that packs all four),
normalises every emotion to one vocabulary and maps it to the classes a model learns. It reads no
audio: a later stage does.

| corpus  | name (stem)              | speaker          | emotion codes                                      |
|---------|--------------------------|------------------|----------------------------------------------------|
| crema   | `1001_DFA_ANG_XX`        | `crema:1001`     | ANG DIS FEA HAP NEU SAD; intensity LO MD HI XX     |
| ravdess | `03-01-05-01-01-01-01`   | `ravdess:01`     | 01 neutral 02 calm 03 happy 04 sad 05 angry        |
|         |                          | (last field)     | 06 fearful 07 disgust 08 surprised                 |
| savee   | `DC_a01`, `DC/a01`       | `savee:DC`       | a d f h n sa su                                    |
| tess    | `OAF_back_angry`         | `tess:OAF`       | angry disgust fear happy neutral ps sad            |

Rules, so that nothing is guessed:

* Only `.wav` and `.flac` files (any case) are candidates; other files are ignored (other audio
  formats are counted in `CorpusIndex.excluded`). Hidden files and folders (`.x`, `__MACOSX`) are
  skipped: zip tools leave AppleDouble `._DC_a01.wav` files that are not audio.
* A name is recognised by its corpus's pattern, and every field is validated (a RAVDESS emotion
  `09`, a SAVEE speaker `XY`, a CREMA-D sentence code that does not exist are not clips). Names that
  fail go to `CorpusIndex.unparsed` with the reason.
* Folders must agree with names: a RAVDESS file inside `Actor_03/` must say actor 03, a TESS file
  inside `OAF_Fear/` must be an OAF fear clip, and a file whose folders name one corpus (`Ravdess/`,
  `TESS .../`, `Savee/`, `Crema/`) must follow that corpus's pattern. Disagreement is `unparsed`.
* RAVDESS song (vocal channel 02) is not speech and is counted in `excluded`, never indexed.
* The same recording found twice (a `.wav` and a `.flac` copy, or the bundle beside an original
  download) is indexed once; the copies are listed in `CorpusIndex.duplicates`.

Known quirks that are handled: TESS's `OA_bite_neutral` (speaker prefix `OA_` means OAF), TESS `ps`
(pleasant surprise) and its folders `OAF_Pleasant_surprise` / `YAF_pleasant_surprised`, folder case
(`OAF_Fear`, `OAF_Sad`), SAVEE's two-letter codes `sa`/`su`, and CREMA-D's `1040_ITH_SAD_X` (one
`X`, renamed `..._XX` upstream in 2022; both read as "unspecified" intensity).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from types import MappingProxyType
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
from tonecue.edge.errors import TonecueError

__all__ = [
    "AUDIO_EXTENSIONS",
    "CORPORA",
    "DEFAULT",
    "EMOTIONS",
    "SEED_CLASSES",
    "Clip",
    "ClipNameError",
    "CorpusError",
    "CorpusIndex",
    "LabelMap",
    "ParsedName",
    "build_index",
    "parse_crema",
    "parse_name",
    "parse_ravdess",
    "parse_savee",
    "parse_tess",
]

CORPORA = ("crema", "ravdess", "savee", "tess")
EMOTIONS = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
    "pleasant_surprise",
)
SEED_CLASSES = ("angry", "happy", "sad", "neutral")
AUDIO_EXTENSIONS = (".wav", ".flac")
_OTHER_AUDIO = frozenset(
    {".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff", ".aifc", ".wma", ".mp4"}
)

EXPECTED_LAYOUTS = {
    "crema": "Crema/1001_DFA_ANG_XX.wav (actor_sentence_emotion_intensity; original: AudioWAV/)",
    "ravdess": (
        "Ravdess/audio_speech_actors_01-24/Actor_01/03-01-05-01-01-01-01.wav "
        "(modality-channel-emotion-intensity-statement-repetition-actor; original: Actor_01/)"
    ),
    "savee": "Savee/DC_a01.wav (original: AudioData/DC/a01.wav)",
    "tess": "Tess/OAF_angry/OAF_back_angry.wav (speaker_word_emotion)",
}


class CorpusError(TonecueError, ValueError):
    """A corpus folder or label map that cannot give a usable index."""


class ClipNameError(ValueError):
    """A file name that does not follow a corpus's naming scheme (or contradicts its folder)."""


# --------------------------------------------------------------------------------------------
# Parsing names
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedName:
    """What a file name says about its recording.

    speaker and utterance carry their corpus as a prefix ("ravdess:03", "tess:back") so that they
    are unique across corpora. intensity is "normal"/"strong" (RAVDESS) or "low"/"medium"/"high"/
    "unspecified" (CREMA-D); repetition is RAVDESS's "01"/"02". exclude, when set, says why a
    valid recording is not speech (RAVDESS song) and must not be indexed.
    """

    corpus: str
    speaker: str
    emotion: str
    utterance: str
    intensity: str | None = None
    repetition: str | None = None
    exclude: str | None = None

    @property
    def identity(self) -> tuple:
        """What makes a recording unique: two files with one identity are copies."""
        return (self.corpus, self.speaker, self.emotion, self.utterance, self.intensity, self.repetition)


def _split_name(name: str | os.PathLike) -> tuple[str, str | None]:
    """(stem, parent folder name) of a path-like; a known audio extension is removed."""
    path = PurePath(os.fspath(name))
    stem = path.name
    suffix = path.suffix
    if suffix and re.fullmatch(r"\.[A-Za-z0-9]{1,5}", suffix):
        stem = stem[: -len(suffix)]
    parent = path.parent.name or None
    return stem, parent


# CREMA-D ------------------------------------------------------------------------------------

_CREMA_RE = re.compile(r"(\d{4})_([A-Za-z]{3})_([A-Za-z]{3})_([A-Za-z]{1,2})")
_CREMA_EMOTIONS = {
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fearful",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}
_CREMA_INTENSITY = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified", "X": "unspecified"}
CREMA_SENTENCES = {
    "IEO": "It's eleven o'clock.",
    "TIE": "That is exactly what happened.",
    "IOM": "I'm on my way to the meeting.",
    "IWW": "I wonder what this is about.",
    "TAI": "The airplane is almost full.",
    "MTI": "Maybe tomorrow it will be cold.",
    "IWL": "I would like a new alarm clock.",
    "ITH": "I think I have a doctor's appointment.",
    "DFA": "Don't forget a jacket.",
    "ITS": "I think I've seen this before.",
    "TSI": "The surface is slick.",
    "WSI": "We'll stop in a couple of minutes.",
}


def parse_crema(name: str | os.PathLike) -> ParsedName:
    """Parse a CREMA-D name such as `1001_DFA_ANG_XX.wav` (actor 1001–1091, 12 sentences)."""
    stem, _ = _split_name(name)
    match = _CREMA_RE.fullmatch(stem)
    if match is None:
        raise ClipNameError(f"{stem!r} is not a CREMA-D name (actor_sentence_emotion_intensity, e.g. 1001_DFA_ANG_XX)")
    actor, sentence, emotion, intensity = match.groups()
    sentence, emotion, intensity = sentence.upper(), emotion.upper(), intensity.upper()
    if not 1001 <= int(actor) <= 1091:
        raise ClipNameError(f"CREMA-D name {stem!r}: actor {actor} is outside 1001–1091")
    if sentence not in CREMA_SENTENCES:
        raise ClipNameError(
            f"CREMA-D name {stem!r}: sentence {sentence} is not one of {', '.join(sorted(CREMA_SENTENCES))}"
        )
    if emotion not in _CREMA_EMOTIONS:
        raise ClipNameError(f"CREMA-D name {stem!r}: emotion {emotion} is not one of {', '.join(_CREMA_EMOTIONS)}")
    if intensity not in _CREMA_INTENSITY:
        raise ClipNameError(f"CREMA-D name {stem!r}: intensity {intensity} is not LO, MD, HI or XX")
    return ParsedName(
        corpus="crema",
        speaker=f"crema:{actor}",
        emotion=_CREMA_EMOTIONS[emotion],
        utterance=f"crema:{sentence}",
        intensity=_CREMA_INTENSITY[intensity],
    )


# RAVDESS ------------------------------------------------------------------------------------

_RAVDESS_RE = re.compile(r"(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})")
_RAVDESS_EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}
_RAVDESS_INTENSITY = {"01": "normal", "02": "strong"}
RAVDESS_STATEMENTS = {"01": "Kids are talking by the door.", "02": "Dogs are sitting by the door."}
_ACTOR_FOLDER_RE = re.compile(r"actor_(\d{1,2})", re.IGNORECASE)


def parse_ravdess(name: str | os.PathLike) -> ParsedName:
    """Parse a RAVDESS name `MM-VV-EE-II-SS-RR-AA` (modality, vocal channel, emotion, intensity,
    statement, repetition, actor). Audio-only (03) speech (01) is a clip; song (02) and the
    video modalities (01, 02) parse but carry `exclude`. A parent folder `Actor_XX` must agree."""
    stem, parent = _split_name(name)
    match = _RAVDESS_RE.fullmatch(stem)
    if match is None:
        raise ClipNameError(f"{stem!r} is not a RAVDESS name (seven two-digit fields, e.g. 03-01-05-01-01-01-01)")
    modality, channel, emotion, intensity, statement, repetition, actor = match.groups()
    problems = []
    if modality not in ("01", "02", "03"):
        problems.append(f"modality {modality} is not 01, 02 or 03")
    if channel not in ("01", "02"):
        problems.append(f"vocal channel {channel} is not 01 (speech) or 02 (song)")
    if emotion not in _RAVDESS_EMOTIONS:
        problems.append(f"emotion {emotion} is not 01–08")
    if intensity not in _RAVDESS_INTENSITY:
        problems.append(f"intensity {intensity} is not 01 or 02")
    if statement not in RAVDESS_STATEMENTS:
        problems.append(f"statement {statement} is not 01 or 02")
    if repetition not in ("01", "02"):
        problems.append(f"repetition {repetition} is not 01 or 02")
    if not 1 <= int(actor) <= 24:
        problems.append(f"actor {actor} is not 01–24")
    if problems:
        raise ClipNameError(f"RAVDESS name {stem!r}: " + "; ".join(problems))
    if parent is not None:
        folder = _ACTOR_FOLDER_RE.fullmatch(parent)
        if folder is not None and int(folder.group(1)) != int(actor):
            raise ClipNameError(f"RAVDESS name {stem!r} says actor {actor} but sits in folder {parent!r}")
    exclude = None
    if modality != "03":
        exclude = "ravdess: audio-video modality (01/02), not audio-only"
    elif channel == "02":
        exclude = "ravdess: song (vocal channel 02), not speech"
    return ParsedName(
        corpus="ravdess",
        speaker=f"ravdess:{actor}",
        emotion=_RAVDESS_EMOTIONS[emotion],
        utterance=f"ravdess:{statement}",
        intensity=_RAVDESS_INTENSITY[intensity],
        repetition=repetition,
        exclude=exclude,
    )


# SAVEE --------------------------------------------------------------------------------------

SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")
_SAVEE_EMOTIONS = {
    "a": "angry",
    "d": "disgust",
    "f": "fearful",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprised",
}
_SAVEE_CODE = r"(sa|su|a|d|f|h|n)(\d{2})"
_SAVEE_BUNDLE_RE = re.compile(r"([A-Za-z]{2})_" + _SAVEE_CODE, re.IGNORECASE)
_SAVEE_ORIGINAL_RE = re.compile(_SAVEE_CODE, re.IGNORECASE)


def parse_savee(name: str | os.PathLike) -> ParsedName:
    """Parse a SAVEE name: `DC_a01` (Kaggle bundle) or `DC/a01` (original `AudioData/<speaker>/`,
    where the speaker is the parent folder). Codes: a, d, f, h, sa, su (01–15) and n (01–30)."""
    stem, parent = _split_name(name)
    match = _SAVEE_BUNDLE_RE.fullmatch(stem)
    if match is not None:
        speaker, code, number = match.groups()
        speaker = speaker.upper()
        if parent is not None and parent.upper() in SAVEE_SPEAKERS and parent.upper() != speaker:
            raise ClipNameError(f"SAVEE name {stem!r} says speaker {speaker} but sits in folder {parent!r}")
    else:
        match = _SAVEE_ORIGINAL_RE.fullmatch(stem)
        if match is None:
            raise ClipNameError(f"{stem!r} is not a SAVEE name (e.g. DC_a01, or a01 inside a DC/ folder)")
        if parent is None or parent.upper() not in SAVEE_SPEAKERS:
            raise ClipNameError(
                f"SAVEE name {stem!r} carries no speaker: it must sit in a folder named "
                f"{', '.join(SAVEE_SPEAKERS)} (found {parent!r})"
            )
        speaker = parent.upper()
        code, number = match.groups()
    code = code.lower()
    if speaker not in SAVEE_SPEAKERS:
        raise ClipNameError(f"SAVEE name {stem!r}: speaker {speaker} is not one of {', '.join(SAVEE_SPEAKERS)}")
    top = 30 if code == "n" else 15
    if not 1 <= int(number) <= top:
        raise ClipNameError(f"SAVEE name {stem!r}: sentence {number} of {code!r} is outside 01–{top}")
    return ParsedName(
        corpus="savee",
        speaker=f"savee:{speaker}",
        emotion=_SAVEE_EMOTIONS[code],
        utterance=f"savee:{code}{number}",
    )


# TESS ---------------------------------------------------------------------------------------

TESS_SPEAKERS = ("OAF", "YAF")
_TESS_SPEAKER_ALIASES = {"OAF": "OAF", "YAF": "YAF", "OA": "OAF"}
_TESS_RE = re.compile(r"(OAF|YAF|OA)_([A-Za-z]+)_([A-Za-z]+)", re.IGNORECASE)
_TESS_EMOTIONS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "pleasant_surprise",
    "sad": "sad",
}
# Folder names say the emotion in words, with varied case and spelling.
_TESS_FOLDER_EMOTIONS = {
    **_TESS_EMOTIONS,
    "fearful": "fearful",
    "disgusted": "disgust",
    "pleasant_surprise": "pleasant_surprise",
    "pleasant_surprised": "pleasant_surprise",
}
_TESS_FOLDER_RE = re.compile(r"(OAF|YAF|OA)_(.+)", re.IGNORECASE)


def parse_tess(name: str | os.PathLike) -> ParsedName:
    """Parse a TESS name `OAF_back_angry` (speaker_word_emotion; `OA_` is OAF, `ps` is pleasant
    surprise). A parent folder `<SPK>_<emotion>` (any case, e.g. `YAF_pleasant_surprised`) must agree."""
    stem, parent = _split_name(name)
    match = _TESS_RE.fullmatch(stem)
    if match is None:
        raise ClipNameError(f"{stem!r} is not a TESS name (speaker_word_emotion, e.g. OAF_back_angry)")
    speaker, word, emotion_code = match.groups()
    speaker = _TESS_SPEAKER_ALIASES[speaker.upper()]
    emotion = _TESS_EMOTIONS.get(emotion_code.lower())
    if emotion is None:
        raise ClipNameError(
            f"TESS name {stem!r}: emotion {emotion_code!r} is not one of {', '.join(_TESS_EMOTIONS)}"
        )
    if parent is not None:
        folder = _TESS_FOLDER_RE.fullmatch(parent)
        if folder is not None:
            folder_speaker = _TESS_SPEAKER_ALIASES[folder.group(1).upper()]
            key = re.sub(r"[\s-]+", "_", folder.group(2).strip().lower())
            folder_emotion = _TESS_FOLDER_EMOTIONS.get(key)
            if folder_emotion is None:
                raise ClipNameError(f"TESS name {stem!r} sits in folder {parent!r}, whose emotion is not recognised")
            if (folder_speaker, folder_emotion) != (speaker, emotion):
                raise ClipNameError(
                    f"TESS name {stem!r} ({speaker}, {emotion}) disagrees with its folder {parent!r} "
                    f"({folder_speaker}, {folder_emotion})"
                )
    return ParsedName(
        corpus="tess",
        speaker=f"tess:{speaker}",
        emotion=emotion,
        utterance=f"tess:{word.lower()}",
    )


_PARSERS = {"crema": parse_crema, "ravdess": parse_ravdess, "savee": parse_savee, "tess": parse_tess}
_SIGNATURES = {
    "crema": _CREMA_RE,
    "ravdess": _RAVDESS_RE,
    "savee": re.compile(r"(?:[A-Za-z]{2}_)?" + _SAVEE_CODE, re.IGNORECASE),
    "tess": _TESS_RE,
}


def parse_name(name: str | os.PathLike) -> ParsedName:
    """Parse a name of any of the four corpora (their patterns do not overlap).

    Raises ClipNameError with the reason when the name follows no pattern or a field is invalid.
    """
    stem, _ = _split_name(name)
    for corpus, signature in _SIGNATURES.items():
        if signature.fullmatch(stem):
            return _PARSERS[corpus](name)
    raise ClipNameError(
        f"{stem!r} follows none of the corpus naming schemes: "
        + "; ".join(f"{corpus} {layout}" for corpus, layout in EXPECTED_LAYOUTS.items())
    )


# --------------------------------------------------------------------------------------------
# Label map
# --------------------------------------------------------------------------------------------


class LabelMap:
    """Maps normalised emotions to the classes a model learns; other emotions are dropped.

    LabelMap() is the seed's four classes, in the fixed order angry, happy, sad, neutral.
    LabelMap(calm_as_neutral=True) also counts RAVDESS calm as neutral. LabelMap(mapping) takes any
    dict from emotions (see EMOTIONS) to class names, e.g. {"angry": "negative", "sad": "negative",
    "happy": "positive", "neutral": "neutral"}; classes are ordered by first appearance in the
    mapping unless `classes` gives the order. calm_as_neutral=True gives calm neutral's class.
    """

    __slots__ = ("_mapping", "_classes")

    def __init__(
        self,
        mapping: Mapping[str, str] | None = None,
        *,
        classes: Sequence[str] | None = None,
        calm_as_neutral: bool = False,
    ) -> None:
        if mapping is None:
            mapping = {emotion: emotion for emotion in SEED_CLASSES}
        if not isinstance(mapping, Mapping):
            raise CorpusError(f"a label map is a dict from emotion to class, got {type(mapping).__name__}")
        mapping = dict(mapping)
        unknown = [key for key in mapping if key not in EMOTIONS]
        if unknown:
            raise CorpusError(
                f"label map names unknown emotions {unknown}; the emotions are {', '.join(EMOTIONS)}"
            )
        bad = [key for key, value in mapping.items() if not isinstance(value, str) or not value.strip()]
        if bad:
            raise CorpusError(f"label map gives no class name (a non-empty string) for {bad}")
        if calm_as_neutral:
            if "neutral" not in mapping:
                raise CorpusError("calm_as_neutral=True needs 'neutral' in the label map")
            if "calm" in mapping and mapping["calm"] != mapping["neutral"]:
                raise CorpusError(
                    f"calm_as_neutral=True contradicts the map's calm -> {mapping['calm']!r} "
                    f"(neutral -> {mapping['neutral']!r})"
                )
            mapping["calm"] = mapping["neutral"]
        if not mapping:
            raise CorpusError("label map is empty: it keeps no emotion")
        values = list(dict.fromkeys(mapping.values()))
        if classes is None:
            ordered = tuple(values)
        else:
            ordered = tuple(classes)
            if len(set(ordered)) != len(ordered):
                raise CorpusError(f"label map classes repeat a name: {list(ordered)}")
            if set(ordered) != set(values):
                missing = [c for c in values if c not in ordered]
                extra = [c for c in ordered if c not in values]
                parts = []
                if missing:
                    parts.append(f"classes leave out {missing}")
                if extra:
                    parts.append(f"no emotion maps to {extra}")
                raise CorpusError("label map classes disagree with the mapping: " + "; ".join(parts))
        # Store the mapping in EMOTIONS order so equal maps compare equal.
        self._mapping = MappingProxyType({e: mapping[e] for e in EMOTIONS if e in mapping})
        self._classes = ordered

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelMap:
        """Either a plain {emotion: class} dict or the {"classes": [...], "mapping": {...}} of to_dict()."""
        if "mapping" in data or "classes" in data:
            unknown = set(data) - {"mapping", "classes"}
            if unknown or "mapping" not in data:
                raise CorpusError(f"a label map dict has 'mapping' and optionally 'classes', got keys {sorted(data)}")
            return cls(data["mapping"], classes=data.get("classes"))
        return cls(data)

    def to_dict(self) -> dict[str, Any]:
        return {"classes": list(self._classes), "mapping": dict(self._mapping)}

    @property
    def classes(self) -> tuple[str, ...]:
        return self._classes

    @property
    def mapping(self) -> Mapping[str, str]:
        return self._mapping

    def label_of(self, emotion: str) -> str | None:
        """The class of a normalised emotion, or None where the map drops it."""
        return self._mapping.get(emotion)

    __call__ = label_of

    def index_of(self, label: str) -> int:
        try:
            return self._classes.index(label)
        except ValueError:
            raise CorpusError(f"{label!r} is not a class of this label map ({', '.join(self._classes)})") from None

    def emotions_of(self, label: str) -> tuple[str, ...]:
        """The emotions a class takes."""
        return tuple(e for e, c in self._mapping.items() if c == label)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelMap):
            return NotImplemented
        return self._classes == other._classes and dict(self._mapping) == dict(other._mapping)

    def __hash__(self) -> int:
        return hash((self._classes, tuple(self._mapping.items())))

    def __repr__(self) -> str:
        return f"LabelMap({dict(self._mapping)!r}, classes={self._classes!r})"


DEFAULT = LabelMap()


# --------------------------------------------------------------------------------------------
# The index
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """One recording: where it is, who says what, with which emotion, and the class it trains.

    speaker and utterance are unique across corpora ("ravdess:03", "tess:OAF"; "ravdess:01" is
    RAVDESS statement 01, "tess:back" a TESS word, "crema:DFA" a CREMA-D sentence, "savee:a01" a
    SAVEE sentence code). Group by utterance for word- or sentence-disjoint splits.
    """

    path: Path
    corpus: str
    speaker: str
    emotion: str
    label: str
    utterance: str | None = None
    intensity: str | None = None

    @property
    def text(self) -> str | None:
        """The words spoken, where the corpus documents them (SAVEE's are not mapped here)."""
        if self.utterance is None:
            return None
        code = self.utterance.split(":", 1)[-1]
        if self.corpus == "ravdess":
            return RAVDESS_STATEMENTS.get(code)
        if self.corpus == "crema":
            return CREMA_SENTENCES.get(code)
        if self.corpus == "tess":
            return f"Say the word {code}."
        return None


_GROUP_KEYS = ("speaker", "utterance", "corpus", "emotion", "label")


@dataclass(frozen=True)
class CorpusIndex:
    """The clips found under a root, and an account of every audio file that is not one.

    clips: sorted by (corpus, speaker, path). dropped: (corpus, emotion) -> count of clips whose
    emotion the label map drops. unparsed: audio files whose names (or folders) could not be read,
    with unparsed_reasons giving why. excluded: reason -> count of files that are valid but not
    usable speech (RAVDESS song, other audio formats). duplicates: (copy, kept) pairs of the same
    recording found twice; the copy is not indexed.
    """

    root: Path
    label_map: LabelMap
    clips: tuple[Clip, ...]
    dropped: Mapping[tuple[str, str], int] = field(default_factory=dict)
    unparsed: tuple[Path, ...] = ()
    unparsed_reasons: Mapping[Path, str] = field(default_factory=dict)
    excluded: Mapping[str, int] = field(default_factory=dict)
    duplicates: tuple[tuple[Path, Path], ...] = ()

    def __len__(self) -> int:
        return len(self.clips)

    def __iter__(self) -> Iterator[Clip]:
        return iter(self.clips)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.label_map.classes

    @property
    def corpora(self) -> tuple[str, ...]:
        """The corpora that have clips, in CORPORA order."""
        present = {clip.corpus for clip in self.clips}
        return tuple(c for c in CORPORA if c in present)

    def speakers(self, corpus: str | None = None) -> tuple[str, ...]:
        return tuple(sorted({c.speaker for c in self.clips if corpus is None or c.corpus == corpus}))

    def label_ids(self) -> np.ndarray:
        """Class index (into `classes`) of every clip, int64."""
        index = {label: i for i, label in enumerate(self.classes)}
        return np.array([index[clip.label] for clip in self.clips], dtype=np.int64)

    def groups(self, by: str = "speaker") -> np.ndarray:
        """One group name per clip (speaker, utterance, corpus, emotion or label), for grouped splits."""
        if by not in _GROUP_KEYS:
            raise ValueError(f"groups(by={by!r}): choose one of {', '.join(_GROUP_KEYS)}")
        return np.array([str(getattr(clip, by)) for clip in self.clips], dtype=str)

    def subset(self, *, corpora: Iterable[str] | None = None, speakers: Iterable[str] | None = None) -> CorpusIndex:
        """The clips of some corpora and/or speakers (dropped counts follow the corpora; the rest
        of the account is kept). Unlike build_index, a subset may leave a class empty."""
        keep_corpora = None if corpora is None else set(corpora)
        keep_speakers = None if speakers is None else set(speakers)
        if keep_corpora is not None and not keep_corpora <= set(CORPORA):
            raise ValueError(f"unknown corpora {sorted(keep_corpora - set(CORPORA))}; choose from {CORPORA}")
        clips = tuple(
            c
            for c in self.clips
            if (keep_corpora is None or c.corpus in keep_corpora)
            and (keep_speakers is None or c.speaker in keep_speakers)
        )
        dropped = {k: v for k, v in self.dropped.items() if keep_corpora is None or k[0] in keep_corpora}
        return CorpusIndex(
            root=self.root,
            label_map=self.label_map,
            clips=clips,
            dropped=MappingProxyType(dropped),
            unparsed=self.unparsed,
            unparsed_reasons=self.unparsed_reasons,
            excluded=self.excluded,
            duplicates=self.duplicates,
        )

    def counts(self) -> dict[str, dict[str, int]]:
        """{corpus: {class: clips}} for the corpora present, every class listed (zeros included)."""
        tally = Counter((clip.corpus, clip.label) for clip in self.clips)
        return {corpus: {label: tally[(corpus, label)] for label in self.classes} for corpus in self.corpora}

    def summary(self) -> dict[str, Any]:
        """Counts per corpus x class, speakers per corpus, what was dropped, and how much went unread."""
        totals = Counter(clip.label for clip in self.clips)
        dropped: dict[str, dict[str, int]] = {}
        for (corpus, emotion), n in sorted(self.dropped.items()):
            dropped.setdefault(corpus, {})[emotion] = n
        speakers = {corpus: list(self.speakers(corpus)) for corpus in self.corpora}
        return {
            "n_clips": len(self.clips),
            "classes": list(self.classes),
            "counts": self.counts(),
            "totals": {label: totals[label] for label in self.classes},
            "speakers": speakers,
            "n_speakers": {corpus: len(names) for corpus, names in speakers.items()},
            "dropped": dropped,
            "n_unparsed": len(self.unparsed),
            "excluded": dict(sorted(self.excluded.items())),
            "n_duplicates": len(self.duplicates),
        }

    def to_report(self) -> dict[str, Any]:
        """summary() plus the root, the label map and the files behind every unparsed or duplicate
        count (paths relative to the root, POSIX style). JSON-serialisable."""
        report = {"root": str(self.root), "label_map": self.label_map.to_dict(), **self.summary()}
        report["unparsed"] = [
            {"path": self._relative(path), "reason": self.unparsed_reasons.get(path, "")} for path in self.unparsed
        ]
        report["duplicates"] = [
            {"path": self._relative(copy), "same_as": self._relative(kept)} for copy, kept in self.duplicates
        ]
        return json.loads(json.dumps(report))

    def format_table(self) -> str:
        """A plain-text table of clips per corpus x class, with speakers, for logs and the CLI."""
        counts = self.counts()
        header = ["corpus", *self.classes, "total", "speakers"]
        rows = [
            [corpus, *(str(counts[corpus][c]) for c in self.classes), str(sum(counts[corpus].values())),
             str(len(self.speakers(corpus)))]
            for corpus in self.corpora
        ]
        totals = Counter(clip.label for clip in self.clips)
        rows.append(["all", *(str(totals[c]) for c in self.classes), str(len(self.clips)), str(len(self.speakers()))])
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines = ["  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))
                 for row in [header, *rows]]
        return "\n".join(lines)

    def _relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()


# --------------------------------------------------------------------------------------------
# Walking a folder
# --------------------------------------------------------------------------------------------

_HINT_TOKENS = {"crema": "crema", "cremad": "crema", "ravdess": "ravdess", "savee": "savee", "tess": "tess"}
_RAVDESS_FOLDER_RE = re.compile(r"actor_\d{1,2}|audio_(speech|song)_actors.*", re.IGNORECASE)


def _folder_hints(parts: Iterable[str]) -> set[str]:
    """Corpora that folder names point at: `Ravdess/`, `TESS Toronto .../`, `Actor_03/`, `OAF_Fear/`."""
    hints = set()
    for part in parts:
        for token in re.split(r"[^a-z0-9]+", part.lower()):
            if token in _HINT_TOKENS:
                hints.add(_HINT_TOKENS[token])
        if _RAVDESS_FOLDER_RE.fullmatch(part):
            hints.add("ravdess")
        if _TESS_FOLDER_RE.fullmatch(part):
            hints.add("tess")
    return hints


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _walk(root: Path) -> tuple[list[Path], Counter]:
    """Candidate audio files (relative to root, sorted) and a count of other audio formats."""
    audio: list[Path] = []
    other = Counter()
    seen_dirs: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen_dirs:  # a symlink loop or a folder linked twice
            dirnames[:] = []
            continue
        seen_dirs.add(real)
        dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
        base = Path(dirpath)
        for filename in filenames:
            if _is_hidden(filename):
                continue
            suffix = os.path.splitext(filename)[1].lower()
            if suffix in AUDIO_EXTENSIONS:
                audio.append((base / filename).relative_to(root))
            elif suffix in _OTHER_AUDIO:
                other[suffix] += 1
    audio.sort(key=lambda p: p.as_posix())
    return audio, other


def _expected() -> str:
    return "; ".join(f"{corpus}: {layout}" for corpus, layout in EXPECTED_LAYOUTS.items())


def build_index(root: str | os.PathLike, label_map: LabelMap = DEFAULT) -> CorpusIndex:
    """Index every clip under `root` from file and folder names alone (no audio is read).

    Accepts the Kaggle bundle (Crema/, Ravdess/audio_speech_actors_01-24/Actor_XX/, Savee/,
    Tess/<SPK>_<emotion>/), each corpus's original layout, or any mix of them: the corpus of a file
    is decided by its name's pattern, checked against its folders. Raises CorpusError when the root
    is missing or not a folder, when it holds no recognisable clip, or when a class of the label
    map gets no clip.
    """
    if not isinstance(label_map, LabelMap):
        raise CorpusError(f"label_map must be a LabelMap, got {type(label_map).__name__} (use LabelMap(dict))")
    root = Path(os.path.abspath(os.path.expanduser(os.fspath(root))))
    if not root.exists():
        raise CorpusError(f"corpus root {root} does not exist")
    if not root.is_dir():
        raise CorpusError(f"corpus root {root} is not a folder")

    audio, other_audio = _walk(root)
    if not audio:
        found = ", ".join(f"{n} {ext}" for ext, n in sorted(other_audio.items()))
        raise CorpusError(
            f"no .wav or .flac files under {root}"
            + (f" (found {found} files, which are not read)" if found else "")
            + f"; expected one or more of — {_expected()}"
        )

    unparsed: dict[Path, str] = {}
    excluded: Counter = Counter()
    for ext, n in other_audio.items():
        excluded[f"{ext} files (only .wav and .flac are read)"] += n
    kept: dict[tuple, Path] = {}
    duplicates: list[tuple[Path, Path]] = []
    dropped: Counter = Counter()
    clips: list[Clip] = []
    recognised = 0

    for rel in audio:
        path = root / rel
        try:
            parsed = parse_name(path)  # the full path: a root named Actor_03/ or DC/ is context too
        except ClipNameError as error:
            unparsed[path] = str(error)
            continue
        hints = _folder_hints(rel.parts[:-1])
        if hints and parsed.corpus not in hints:
            unparsed[path] = (
                f"name looks like {parsed.corpus} but its folders point at {', '.join(sorted(hints))}"
            )
            continue
        recognised += 1
        if parsed.exclude is not None:
            excluded[parsed.exclude] += 1
            continue
        if parsed.identity in kept:
            duplicates.append((path, kept[parsed.identity]))
            continue
        kept[parsed.identity] = path
        label = label_map.label_of(parsed.emotion)
        if label is None:
            dropped[(parsed.corpus, parsed.emotion)] += 1
            continue
        clips.append(
            Clip(
                path=path,
                corpus=parsed.corpus,
                speaker=parsed.speaker,
                emotion=parsed.emotion,
                label=label,
                utterance=parsed.utterance,
                intensity=parsed.intensity,
            )
        )

    if recognised == 0:
        examples = ", ".join(p.relative_to(root).as_posix() for p in list(unparsed)[:3])
        raise CorpusError(
            f"none of the {len(audio)} audio files under {root} has a recognised corpus name "
            f"(e.g. {examples}: {next(iter(unparsed.values()))}); expected one or more of — {_expected()}"
        )

    counts = Counter(clip.label for clip in clips)
    empty = [label for label in label_map.classes if counts[label] == 0]
    if empty:
        found = Counter(identity[2] for identity in kept)  # identity[2] is the emotion
        described = ", ".join(
            f"{label!r} (takes {', '.join(label_map.emotions_of(label))})" for label in empty
        )
        raise CorpusError(
            f"the label map leaves class{'es' if len(empty) > 1 else ''} {described} with no clips under {root}; "
            f"emotions found: {', '.join(f'{e} {n}' for e, n in sorted(found.items())) or 'none'}"
        )

    return _index(root, label_map, clips, dropped, unparsed, excluded, duplicates)


def _index(root: Path, label_map: LabelMap, clips: list[Clip], dropped: Mapping, unparsed: dict[Path, str],
           excluded: Mapping, duplicates: list) -> CorpusIndex:
    """The frozen index: clips sorted by (corpus, speaker, path), counts sorted by key."""
    clips = sorted(clips, key=lambda c: (c.corpus, c.speaker, c.path.as_posix()))
    return CorpusIndex(
        root=root,
        label_map=label_map,
        clips=tuple(clips),
        dropped=MappingProxyType(dict(sorted(dropped.items()))),
        unparsed=tuple(unparsed),
        unparsed_reasons=MappingProxyType(unparsed),
        excluded=MappingProxyType(dict(sorted(excluded.items()))),
        duplicates=tuple(duplicates),
    )



def build_index_of(roots: str | os.PathLike | Sequence[str | os.PathLike], label_map: LabelMap = DEFAULT) -> CorpusIndex:
    """One index over several corpus folders (each read as `build_index` reads it), e.g. ser-en-dev
    and crema-d side by side. A recording found under two folders is indexed once. The index's
    root is the folders' common parent, so that reports name every clip unambiguously."""
    roots = [roots] if isinstance(roots, (str, os.PathLike)) else list(roots)
    if not roots:
        raise CorpusError("no corpus folder given")
    if len(roots) == 1:
        return build_index(roots[0], label_map)
    indexes = [build_index(root, label_map) for root in roots]
    seen: dict[tuple[str, str, str], Path] = {}
    clips, duplicates = [], []
    for index in indexes:
        duplicates.extend(index.duplicates)
        for clip in index.clips:
            key = (clip.corpus, clip.speaker, clip.path.stem)
            if key in seen:
                duplicates.append((clip.path, seen[key]))
                continue
            seen[key] = clip.path
            clips.append(clip)
    dropped: Counter = Counter()
    excluded: Counter = Counter()
    unparsed: dict[Path, str] = {}
    for index in indexes:
        dropped.update(index.dropped)
        excluded.update(index.excluded)
        unparsed.update(index.unparsed_reasons)
    root = Path(os.path.commonpath([str(index.root) for index in indexes]))
    return _index(root, label_map, clips, dropped, unparsed, excluded, duplicates)


def without_speakers(index: CorpusIndex, speakers: Iterable[str]) -> tuple[CorpusIndex, list[str]]:
    """The index without the clips of `speakers` (ids as the index names them, e.g. "crema:1003"),
    and which of those ids it held. Ids it does not hold are not an error: a held-out list may name
    speakers of corpora this run does not use."""
    leave = set(speakers)
    present = sorted(leave & {clip.speaker for clip in index.clips})
    kept = tuple(clip for clip in index.clips if clip.speaker not in leave)
    missing = [label for label in index.label_map.classes if not any(c.label == label for c in kept)]
    if missing:
        raise CorpusError(f"leaving out {', '.join(present)} leaves no clip of class(es) {', '.join(missing)}")
    return dataclasses.replace(index, clips=kept), present
