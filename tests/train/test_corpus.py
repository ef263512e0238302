"""The corpus index: name parsers, layouts, label maps and errors on fake trees; counts on real data."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tonecue.train.corpus import (
    CORPORA,
    DEFAULT,
    EMOTIONS,
    Clip,
    ClipNameError,
    CorpusError,
    CorpusIndex,
    LabelMap,
    build_index,
    parse_crema,
    parse_name,
    parse_ravdess,
    parse_savee,
    parse_tess,
)


def touch(root: Path, *relpaths: str) -> None:
    for rel in relpaths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


# ---------------------------------------------------------------------------------- CREMA-D


CREMA_EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}


@pytest.mark.parametrize("code, emotion", sorted(CREMA_EMOTIONS.items()))
@pytest.mark.parametrize("level, intensity", [("LO", "low"), ("MD", "medium"), ("HI", "high"), ("XX", "unspecified")])
def test_parse_crema_every_emotion_and_level(code, emotion, level, intensity):
    parsed = parse_crema(f"1001_DFA_{code}_{level}.wav")
    assert parsed.corpus == "crema"
    assert parsed.speaker == "crema:1001"
    assert parsed.emotion == emotion
    assert parsed.utterance == "crema:DFA"
    assert parsed.intensity == intensity
    assert parsed.exclude is None


def test_parse_crema_quirks_and_paths():
    # CREMA-D shipped 1040_ITH_SAD_X.wav (one X) until 2022; it is the unspecified level.
    assert parse_crema("AudioWAV/1040_ITH_SAD_X.wav").intensity == "unspecified"
    assert parse_crema("1091_WSI_NEU_XX.FLAC").speaker == "crema:1091"
    assert parse_crema("1091_WSI_NEU_XX").emotion == "neutral"  # a bare stem


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("1000_DFA_ANG_XX.wav", "actor 1000"),
        ("1092_DFA_ANG_XX.wav", "actor 1092"),
        ("1001_ABC_ANG_XX.wav", "sentence ABC"),
        ("1001_DFA_CAL_XX.wav", "emotion CAL"),
        ("1001_DFA_ANG_ZZ.wav", "intensity ZZ"),
        ("1001-DFA-ANG-XX.wav", "not a CREMA-D name"),
    ],
)
def test_parse_crema_rejects(name, fragment):
    with pytest.raises(ClipNameError, match=fragment):
        parse_crema(name)


# ---------------------------------------------------------------------------------- RAVDESS

RAVDESS_EMOTIONS = {
    "01": "neutral", "02": "calm", "03": "happy", "04": "sad",
    "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised",
}


@pytest.mark.parametrize("code, emotion", sorted(RAVDESS_EMOTIONS.items()))
def test_parse_ravdess_every_emotion(code, emotion):
    parsed = parse_ravdess(f"03-01-{code}-02-02-01-12.wav")
    assert (parsed.corpus, parsed.speaker, parsed.emotion) == ("ravdess", "ravdess:12", emotion)
    assert parsed.utterance == "ravdess:02"
    assert parsed.intensity == "strong"
    assert parsed.repetition == "01"
    assert parsed.exclude is None


def test_parse_ravdess_song_and_video_are_not_speech():
    assert "song" in parse_ravdess("03-02-05-01-01-01-01.wav").exclude
    assert "modality" in parse_ravdess("01-01-05-01-01-01-01.wav").exclude
    assert "modality" in parse_ravdess("02-01-05-01-01-01-01.wav").exclude


def test_parse_ravdess_actor_folder_must_agree():
    assert parse_ravdess("Actor_07/03-01-05-01-01-01-07.flac").speaker == "ravdess:07"
    with pytest.raises(ClipNameError, match="Actor_08"):
        parse_ravdess("Actor_08/03-01-05-01-01-01-07.flac")


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("04-01-05-01-01-01-01.wav", "modality 04"),
        ("03-03-05-01-01-01-01.wav", "vocal channel 03"),
        ("03-01-09-01-01-01-01.wav", "emotion 09"),
        ("03-01-00-01-01-01-01.wav", "emotion 00"),
        ("03-01-05-03-01-01-01.wav", "intensity 03"),
        ("03-01-05-01-03-01-01.wav", "statement 03"),
        ("03-01-05-01-01-03-01.wav", "repetition 03"),
        ("03-01-05-01-01-01-25.wav", "actor 25"),
        ("03-01-05-01-01-01-00.wav", "actor 00"),
        ("03-01-05-01-01-01.wav", "not a RAVDESS name"),
    ],
)
def test_parse_ravdess_rejects(name, fragment):
    with pytest.raises(ClipNameError, match=fragment):
        parse_ravdess(name)


# ---------------------------------------------------------------------------------- SAVEE

SAVEE_CODES = {
    "a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral", "sa": "sad", "su": "surprised",
}


@pytest.mark.parametrize("code, emotion", sorted(SAVEE_CODES.items()))
def test_parse_savee_bundle_and_original(code, emotion):
    bundle = parse_savee(f"Savee/JK_{code}03.wav")
    original = parse_savee(f"AudioData/JK/{code}03.wav")
    assert bundle == original
    assert (bundle.corpus, bundle.speaker, bundle.emotion) == ("savee", "savee:JK", emotion)
    assert bundle.utterance == f"savee:{code}03"


def test_parse_savee_two_letter_codes_and_ranges():
    assert parse_savee("DC_sa15.wav").emotion == "sad"
    assert parse_savee("DC_su01.wav").emotion == "surprised"
    assert parse_savee("KL_n30.wav").emotion == "neutral"
    with pytest.raises(ClipNameError, match="outside 01–15"):
        parse_savee("DC_sa16.wav")
    with pytest.raises(ClipNameError, match="outside 01–30"):
        parse_savee("DC_n31.wav")
    with pytest.raises(ClipNameError, match="speaker XY"):
        parse_savee("XY_a01.wav")
    with pytest.raises(ClipNameError, match="no speaker"):
        parse_savee("a01.wav")  # the original layout's bare name needs its speaker folder
    with pytest.raises(ClipNameError, match="no speaker"):
        parse_savee("misc/a01.wav")
    with pytest.raises(ClipNameError, match="folder"):
        parse_savee("DC/JE_a01.wav")
    with pytest.raises(ClipNameError, match="not a SAVEE name"):
        parse_savee("DC_x01.wav")


# ---------------------------------------------------------------------------------- TESS

TESS_CODES = {
    "angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy",
    "neutral": "neutral", "ps": "pleasant_surprise", "sad": "sad",
}


@pytest.mark.parametrize("code, emotion", sorted(TESS_CODES.items()))
@pytest.mark.parametrize("speaker", ["OAF", "YAF"])
def test_parse_tess_every_emotion(code, emotion, speaker):
    parsed = parse_tess(f"{speaker}_back_{code}.wav")
    assert (parsed.corpus, parsed.speaker, parsed.emotion) == ("tess", f"tess:{speaker}", emotion)
    assert parsed.utterance == "tess:back"


def test_parse_tess_quirks():
    # The original ships OAF_neutral/OA_bite_neutral.wav: OA_ is OAF.
    assert parse_tess("OAF_neutral/OA_bite_neutral.wav").speaker == "tess:OAF"
    # Folder names vary in case and spelling.
    assert parse_tess("OAF_Fear/OAF_food_fear.wav").emotion == "fearful"
    assert parse_tess("OAF_Sad/OAF_base_sad.wav").emotion == "sad"
    assert parse_tess("OAF_Pleasant_surprise/OAF_back_ps.wav").emotion == "pleasant_surprise"
    assert parse_tess("YAF_pleasant_surprised/YAF_back_ps.wav").emotion == "pleasant_surprise"
    assert parse_tess("YAF_angry/YAF_germ_angry.WAV").utterance == "tess:germ"


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("OAF_angry/OAF_back_sad.wav", "disagrees"),
        ("YAF_angry/OAF_back_angry.wav", "disagrees"),
        ("OAF_sleepy/OAF_back_angry.wav", "not recognised"),
        ("OAF_back_bored.wav", "emotion 'bored'"),
        ("MAF_back_angry.wav", "not a TESS name"),
    ],
)
def test_parse_tess_rejects(name, fragment):
    with pytest.raises(ClipNameError, match=fragment):
        parse_tess(name)


# ---------------------------------------------------------------------------------- any corpus


@pytest.mark.parametrize(
    "name, corpus",
    [
        ("1001_DFA_ANG_XX.wav", "crema"),
        ("03-01-05-01-01-01-01.wav", "ravdess"),
        ("DC_a01.wav", "savee"),
        ("DC/a01.wav", "savee"),
        ("OAF_back_angry.wav", "tess"),
        ("OA_bite_neutral.wav", "tess"),
    ],
)
def test_parse_name_dispatches(name, corpus):
    assert parse_name(name).corpus == corpus


@pytest.mark.parametrize("name", ["hello.wav", "DC_a1.wav", "1001_DFA_ANG.wav", "OAF_angry.wav", ""])
def test_parse_name_unknown(name):
    with pytest.raises(ClipNameError):
        parse_name(name)


# ---------------------------------------------------------------------------------- fake trees

FOUR = {"crema": ("ANG", "HAP", "SAD", "NEU"), "ravdess": ("05", "03", "04", "01"),
        "savee": ("a", "h", "sa", "n"), "tess": ("angry", "happy", "sad", "neutral")}


def kaggle_tree(root: Path) -> None:
    """Two speakers per corpus, the four classes plus one dropped emotion each, in the bundle's layout."""
    for actor in ("1001", "1002"):
        for code in (*FOUR["crema"], "DIS"):
            touch(root, f"Crema/{actor}_DFA_{code}_XX.wav", f"Crema/{actor}_IEO_{code}_HI.wav")
    for actor in ("01", "02"):
        for code in (*FOUR["ravdess"], "02"):
            touch(root, f"Ravdess/audio_speech_actors_01-24/Actor_{actor}/03-01-{code}-01-01-01-{actor}.wav")
    for speaker in ("DC", "JE"):
        for code in (*FOUR["savee"], "su"):
            touch(root, f"Savee/{speaker}_{code}01.wav")
    for speaker in ("OAF", "YAF"):
        for emotion, folder in [("angry", "angry"), ("happy", "happy"), ("sad", "Sad"),
                                ("neutral", "neutral"), ("fear", "Fear")]:
            touch(root, f"Tess/{speaker}_{folder}/{speaker}_back_{emotion}.wav")
    touch(root, "Tess/YAF_pleasant_surprised/YAF_back_ps.wav")


def original_tree(root: Path) -> None:
    """Each corpus as its authors ship it, side by side, with the originals' quirks."""
    for actor in ("1001", "1002"):
        for code in FOUR["crema"]:
            touch(root, f"CREMA-D/AudioWAV/{actor}_TIE_{code}_LO.wav")
    touch(root, "CREMA-D/AudioWAV/1040_ITH_SAD_X.wav", "CREMA-D/AudioMP3/1001_TIE_ANG_LO.mp3",
          "CREMA-D/README.md")
    for actor in ("03", "04"):
        for code in FOUR["ravdess"]:
            touch(root, f"RAVDESS/Actor_{actor}/03-01-{code}-01-02-02-{actor}.wav")
        touch(root, f"RAVDESS/Actor_{actor}/03-02-05-01-02-02-{actor}.wav")  # song
    for speaker in ("DC", "KL"):
        for code in FOUR["savee"]:
            touch(root, f"SAVEE/AudioData/{speaker}/{code}02.wav")
    touch(root, "SAVEE/AudioData/DC/info.txt")
    for speaker in ("OAF", "YAF"):
        for emotion in FOUR["tess"]:
            touch(root, f"TESS Toronto emotional speech set data/{speaker}_{emotion}/{speaker}_youth_{emotion}.wav")
    touch(root, "TESS Toronto emotional speech set data/OAF_neutral/OA_bite_neutral.wav")
    touch(root, "TESS Toronto emotional speech set data/OAF_Pleasant_surprise/OAF_back_ps.wav")


def test_kaggle_layout(tmp_path):
    kaggle_tree(tmp_path)
    touch(tmp_path, "Crema/notes.txt", "Tess/.DS_Store", "__MACOSX/Savee/._DC_a01.wav", "Savee/._DC_a01.wav")
    index = build_index(tmp_path)
    assert isinstance(index, CorpusIndex)
    assert index.classes == ("angry", "happy", "sad", "neutral")
    assert index.corpora == CORPORA
    assert index.counts() == {
        "crema": {"angry": 4, "happy": 4, "sad": 4, "neutral": 4},
        "ravdess": {"angry": 2, "happy": 2, "sad": 2, "neutral": 2},
        "savee": {"angry": 2, "happy": 2, "sad": 2, "neutral": 2},
        "tess": {"angry": 2, "happy": 2, "sad": 2, "neutral": 2},
    }
    assert index.speakers("crema") == ("crema:1001", "crema:1002")
    assert index.speakers("ravdess") == ("ravdess:01", "ravdess:02")
    assert index.speakers("savee") == ("savee:DC", "savee:JE")
    assert index.speakers("tess") == ("tess:OAF", "tess:YAF")
    assert dict(index.dropped) == {
        ("crema", "disgust"): 4, ("ravdess", "calm"): 2, ("savee", "surprised"): 2,
        ("tess", "fearful"): 2, ("tess", "pleasant_surprise"): 1,
    }
    assert index.unparsed == ()
    assert index.excluded == {}
    for clip in index:
        assert clip.path.is_file()
        assert clip.label in index.classes
        assert clip.emotion in EMOTIONS


def test_original_layouts(tmp_path):
    original_tree(tmp_path)
    index = build_index(tmp_path)
    assert index.counts() == {
        "crema": {"angry": 2, "happy": 2, "sad": 3, "neutral": 2},
        "ravdess": {"angry": 2, "happy": 2, "sad": 2, "neutral": 2},
        "savee": {"angry": 2, "happy": 2, "sad": 2, "neutral": 2},
        "tess": {"angry": 2, "happy": 2, "sad": 2, "neutral": 3},
    }
    assert index.speakers("crema") == ("crema:1001", "crema:1002", "crema:1040")
    assert index.speakers("savee") == ("savee:DC", "savee:KL")
    assert index.speakers("tess") == ("tess:OAF", "tess:YAF")  # OA_ counted as OAF
    assert index.excluded == {
        ".mp3 files (only .wav and .flac are read)": 1,
        "ravdess: song (vocal channel 02), not speech": 2,
    }
    assert dict(index.dropped) == {("tess", "pleasant_surprise"): 1}
    assert index.unparsed == ()
    bite = [c for c in index if c.utterance == "tess:bite"]
    assert [(c.speaker, c.emotion, c.label) for c in bite] == [("tess:OAF", "neutral", "neutral")]


def test_root_can_be_a_single_corpus_or_speaker_folder(tmp_path):
    original_tree(tmp_path)
    assert build_index(tmp_path / "RAVDESS").corpora == ("ravdess",)
    assert build_index(tmp_path / "SAVEE" / "AudioData").speakers() == ("savee:DC", "savee:KL")
    # Rooted at a speaker folder, the bare SAVEE names take their speaker from the root's name.
    assert build_index(tmp_path / "SAVEE" / "AudioData" / "DC", LabelMap({"angry": "angry"})).speakers() == (
        "savee:DC",
    )


def test_unparsed_files_are_listed_never_guessed(tmp_path):
    kaggle_tree(tmp_path)
    touch(
        tmp_path,
        "Savee/hello.wav",  # no pattern
        "Savee/XY_a01.wav",  # unknown speaker
        "Ravdess/audio_speech_actors_01-24/Actor_01/03-01-09-01-01-01-01.wav",  # emotion 09
        "Ravdess/audio_speech_actors_01-24/Actor_01/03-01-05-01-01-01-02.wav",  # actor 02 in Actor_01
        "Tess/OAF_angry/OAF_dog_sad.wav",  # folder says angry
        "Ravdess/DC_a05.wav",  # a SAVEE name under a RAVDESS folder
        "Crema/sub/a01.wav",  # bare SAVEE code without a speaker folder
    )
    index = build_index(tmp_path)
    unparsed = {p.relative_to(tmp_path).as_posix() for p in index.unparsed}
    assert unparsed == {
        "Savee/hello.wav", "Savee/XY_a01.wav",
        "Ravdess/audio_speech_actors_01-24/Actor_01/03-01-09-01-01-01-01.wav",
        "Ravdess/audio_speech_actors_01-24/Actor_01/03-01-05-01-01-01-02.wav",
        "Tess/OAF_angry/OAF_dog_sad.wav", "Ravdess/DC_a05.wav", "Crema/sub/a01.wav",
    }
    assert set(index.unparsed_reasons) == set(index.unparsed)
    assert "folders point at ravdess" in index.unparsed_reasons[tmp_path / "Ravdess/DC_a05.wav"]
    assert "Actor_01" in index.unparsed_reasons[
        tmp_path / "Ravdess/audio_speech_actors_01-24/Actor_01/03-01-05-01-01-01-02.wav"
    ]
    assert all(clip.path not in index.unparsed for clip in index)
    assert len(index) == 40  # the good clips are all still there


def test_extensions_any_case_and_other_audio(tmp_path):
    touch(tmp_path, "DC_a01.WAV", "DC_h01.Flac", "DC_sa01.flac", "DC_n01.wav", "DC_n02.mp3", "DC_n03.aiff",
          "DC_n04.txt", "DC_n05")
    index = build_index(tmp_path)
    assert len(index) == 4
    assert sorted(c.path.name for c in index) == ["DC_a01.WAV", "DC_h01.Flac", "DC_n01.wav", "DC_sa01.flac"]
    assert index.excluded == {".aiff files (only .wav and .flac are read)": 1,
                              ".mp3 files (only .wav and .flac are read)": 1}


def test_duplicates_are_indexed_once(tmp_path):
    touch(tmp_path, "a/DC_a01.wav", "b/DC_a01.flac", "DC_h01.wav", "DC_sa01.wav", "DC_n01.wav")
    index = build_index(tmp_path)
    assert len(index) == 4
    assert index.duplicates == ((tmp_path / "b/DC_a01.flac", tmp_path / "a/DC_a01.wav"),)
    assert index.summary()["n_duplicates"] == 1


def test_index_is_sorted_and_deterministic(tmp_path):
    kaggle_tree(tmp_path)
    first, second = build_index(tmp_path), build_index(tmp_path)
    assert first == second
    keys = [(c.corpus, c.speaker, c.path.as_posix()) for c in first]
    assert keys == sorted(keys)


def test_clip_fields_and_text(tmp_path):
    touch(tmp_path, "Actor_05/03-01-05-02-01-02-05.wav", "Actor_05/03-01-03-01-02-01-05.wav",
          "Actor_05/03-01-04-01-02-01-05.wav", "Actor_05/03-01-01-01-02-01-05.wav")
    clip = build_index(tmp_path).clips[0]
    assert isinstance(clip, Clip)
    assert clip == Clip(
        path=tmp_path / "Actor_05/03-01-01-01-02-01-05.wav", corpus="ravdess", speaker="ravdess:05",
        emotion="neutral", label="neutral", utterance="ravdess:02", intensity="normal",
    )
    assert clip.text == "Dogs are sitting by the door."
    with pytest.raises(AttributeError):
        clip.label = "happy"  # frozen
    assert Clip(Path("x"), "tess", "tess:OAF", "sad", "sad", "tess:back").text == "Say the word back."
    assert Clip(Path("x"), "crema", "crema:1001", "sad", "sad", "crema:DFA").text == "Don't forget a jacket."
    assert Clip(Path("x"), "savee", "savee:DC", "sad", "sad", "savee:sa01").text is None


def test_arrays_groups_and_subset(tmp_path):
    kaggle_tree(tmp_path)
    index = build_index(tmp_path)
    ids = index.label_ids()
    assert ids.dtype == np.int64 and ids.shape == (len(index),)
    assert [index.classes[i] for i in ids] == [c.label for c in index]
    speakers = index.groups("speaker")
    assert speakers.shape == (len(index),) and len(set(speakers)) == 8
    assert set(index.groups("utterance")) >= {"tess:back", "crema:DFA", "crema:IEO", "ravdess:01", "savee:a01"}
    with pytest.raises(ValueError, match="choose one of"):
        index.groups("word")
    tess = index.subset(corpora=["tess"])
    assert tess.corpora == ("tess",) and len(tess) == 8
    assert set(tess.dropped) == {("tess", "fearful"), ("tess", "pleasant_surprise")}
    one = index.subset(speakers=["savee:DC"])
    assert {c.speaker for c in one} == {"savee:DC"} and len(one) == 4
    with pytest.raises(ValueError, match="unknown corpora"):
        index.subset(corpora=["iemocap"])


def test_summary_and_report(tmp_path):
    kaggle_tree(tmp_path)
    touch(tmp_path, "Savee/hello.wav", "a/DC_a01.flac")
    index = build_index(tmp_path)
    summary = index.summary()
    assert summary["n_clips"] == len(index) == 40
    assert summary["classes"] == ["angry", "happy", "sad", "neutral"]
    assert summary["totals"] == {"angry": 10, "happy": 10, "sad": 10, "neutral": 10}
    assert summary["n_speakers"] == {"crema": 2, "ravdess": 2, "savee": 2, "tess": 2}
    assert summary["dropped"]["tess"] == {"fearful": 2, "pleasant_surprise": 1}
    assert summary["n_unparsed"] == 1
    report = index.to_report()
    assert json.loads(json.dumps(report)) == report
    reason = index.unparsed_reasons[tmp_path / "Savee/hello.wav"]
    assert report["unparsed"] == [{"path": "Savee/hello.wav", "reason": reason}]
    # The first in sorted path order is kept ("Savee" sorts before "a").
    assert report["duplicates"] == [{"path": "a/DC_a01.flac", "same_as": "Savee/DC_a01.wav"}]
    assert report["label_map"] == DEFAULT.to_dict()
    table = index.format_table()
    assert table.splitlines()[0].split() == ["corpus", "angry", "happy", "sad", "neutral", "total", "speakers"]
    assert table.splitlines()[-1].split() == ["all", "10", "10", "10", "10", "40", "8"]


# ---------------------------------------------------------------------------------- label maps


def test_default_label_map():
    assert DEFAULT == LabelMap()
    assert DEFAULT.classes == ("angry", "happy", "sad", "neutral")
    assert DEFAULT.label_of("angry") == "angry"
    assert DEFAULT.label_of("calm") is None
    assert DEFAULT.index_of("sad") == 2
    with pytest.raises(CorpusError, match="not a class"):
        DEFAULT.index_of("calm")


def test_calm_as_neutral(tmp_path):
    kaggle_tree(tmp_path)
    plain = build_index(tmp_path)
    calm = build_index(tmp_path, LabelMap(calm_as_neutral=True))
    assert calm.classes == plain.classes
    assert calm.counts()["ravdess"]["neutral"] == plain.counts()["ravdess"]["neutral"] + 2
    assert ("ravdess", "calm") not in calm.dropped
    calm_clips = [c for c in calm if c.emotion == "calm"]
    assert len(calm_clips) == 2 and {c.label for c in calm_clips} == {"neutral"}


def test_label_map_from_a_researchers_dict(tmp_path):
    kaggle_tree(tmp_path)
    mapping = {"angry": "negative", "sad": "negative", "disgust": "negative", "fearful": "negative",
               "happy": "positive", "pleasant_surprise": "positive", "neutral": "neutral"}
    label_map = LabelMap(mapping)
    assert label_map.classes == ("negative", "positive", "neutral")
    assert LabelMap(mapping, classes=["neutral", "negative", "positive"]).classes[0] == "neutral"
    assert LabelMap.from_dict(mapping) == label_map
    assert LabelMap.from_dict(label_map.to_dict()) == label_map
    index = build_index(tmp_path, label_map)
    assert index.counts()["crema"] == {"negative": 12, "positive": 4, "neutral": 4}
    assert index.counts()["tess"] == {"negative": 6, "positive": 3, "neutral": 2}
    assert dict(index.dropped) == {("ravdess", "calm"): 2, ("savee", "surprised"): 2}
    assert set(index.label_ids()) == {0, 1, 2}


@pytest.mark.parametrize(
    "args, kwargs, fragment",
    [
        (({"anger": "angry"},), {}, "unknown emotions"),
        (({"angry": ""},), {}, "no class name"),
        (({},), {}, "empty"),
        (({"angry": "angry"},), {"calm_as_neutral": True}, "needs 'neutral'"),
        (({"neutral": "n", "calm": "c"},), {"calm_as_neutral": True}, "contradicts"),
        (({"angry": "a", "sad": "s"},), {"classes": ["a"]}, "leave out"),
        (({"angry": "a"},), {"classes": ["a", "b"]}, "no emotion maps to"),
        (({"angry": "a"},), {"classes": ["a", "a"]}, "repeat"),
        ((["angry"],), {}, "dict from emotion"),
    ],
)
def test_label_map_errors(args, kwargs, fragment):
    with pytest.raises(CorpusError, match=fragment):
        LabelMap(*args, **kwargs)


def test_label_map_leaving_a_class_empty_is_an_error(tmp_path):
    kaggle_tree(tmp_path)
    with pytest.raises(CorpusError, match="'excited'.*no clips"):
        build_index(tmp_path / "Tess", LabelMap({"angry": "angry", "surprised": "excited"}))
    touch(tmp_path / "sad_only", "DC_sa01.wav", "DC_su01.wav")
    with pytest.raises(CorpusError, match="classes 'angry'.*'happy'.*'neutral'.*surprised 1"):
        build_index(tmp_path / "sad_only")


# ---------------------------------------------------------------------------------- errors


def test_root_errors(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        build_index(tmp_path / "nowhere")
    touch(tmp_path, "file.wav")
    with pytest.raises(CorpusError, match="not a folder"):
        build_index(tmp_path / "file.wav")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match=r"no \.wav or \.flac files.*Ravdess/audio_speech_actors_01-24"):
        build_index(tmp_path / "empty")
    touch(tmp_path / "mp3s", "DC_a01.mp3", "notes.txt")
    with pytest.raises(CorpusError, match=r"found 1 \.mp3"):
        build_index(tmp_path / "mp3s")
    touch(tmp_path / "junk", "song.wav", "take2.flac")
    with pytest.raises(CorpusError, match="none of the 2 audio files.*expected.*Tess/OAF_angry"):
        build_index(tmp_path / "junk")
    with pytest.raises(CorpusError, match="LabelMap"):
        build_index(tmp_path, {"angry": "angry"})
    assert issubclass(CorpusError, ValueError)


def test_symlink_loops_do_not_hang(tmp_path):
    kaggle_tree(tmp_path / "data")
    (tmp_path / "data" / "Savee" / "loop").symlink_to(tmp_path / "data", target_is_directory=True)
    assert len(build_index(tmp_path / "data")) == 40


# ---------------------------------------------------------------------------------- real data


@pytest.mark.data
def test_dev_corpus_matches_the_data_readme(dev_corpus):
    index = build_index(dev_corpus)
    assert index.unparsed == ()
    assert index.duplicates == ()
    assert dict(index.dropped) == {}
    assert index.counts() == {
        "ravdess": {"angry": 144, "happy": 144, "sad": 144, "neutral": 72},
        "savee": {"angry": 45, "happy": 45, "sad": 45, "neutral": 90},
        "tess": {"angry": 216, "happy": 216, "sad": 216, "neutral": 216},
    }
    assert len(index) == 1593
    assert index.speakers("ravdess") == tuple(f"ravdess:{n:02d}" for n in range(1, 19))
    assert index.speakers("tess") == ("tess:OAF", "tess:YAF")
    assert index.speakers("savee") == ("savee:DC", "savee:JE", "savee:JK")
    assert all(clip.path.suffix == ".flac" and clip.path.is_file() for clip in index)
    # 108 TESS words per speaker and emotion.
    per_cell = Counter((c.speaker, c.emotion) for c in index if c.corpus == "tess")
    assert set(per_cell.values()) == {108}


@pytest.mark.data
def test_raw_samples_quirks(raw_samples):
    label_map = LabelMap({"angry": "angry", "neutral": "neutral", "fearful": "fearful"}, calm_as_neutral=True)
    index = build_index(raw_samples, label_map)
    assert index.unparsed == ()
    found = {c.path.relative_to(raw_samples).as_posix(): (c.speaker, c.emotion, c.label) for c in index}
    assert found == {
        "ravdess/Actor_01/03-01-05-01-01-01-01.wav": ("ravdess:01", "angry", "angry"),
        "ravdess/Actor_01/03-01-02-01-01-02-01.wav": ("ravdess:01", "calm", "neutral"),
        "tess/YAF_angry/YAF_germ_angry.wav": ("tess:YAF", "angry", "angry"),
        "tess/OAF_Fear/OAF_food_fear.wav": ("tess:OAF", "fearful", "fearful"),
        "tess/OAF_neutral/OA_bite_neutral.wav": ("tess:OAF", "neutral", "neutral"),
        "savee/DC_a01.wav": ("savee:DC", "angry", "angry"),
    }


@pytest.mark.data
def test_several_folders_make_one_index_and_speakers_can_be_left_out(dev_corpus):
    from tonecue.train.corpus import build_index_of, without_speakers

    crema = dev_corpus.parent / "crema-d"
    both = build_index_of([dev_corpus, crema])
    assert both.corpora == ("crema", "ravdess", "savee", "tess") and len(both) == 1593 + 3284
    assert both.root == dev_corpus.parent
    again = build_index_of([dev_corpus, dev_corpus])  # the same recordings twice count once
    assert len(again) == 1593 and len(again.duplicates) == 1593
    kept, left = without_speakers(both, ["ravdess:04", "crema:1003", "nobody:1"])
    assert left == ["crema:1003", "ravdess:04"] and len(kept) == len(both) - 28 - 54
    assert not {"ravdess:04", "crema:1003"} & set(kept.speakers())
    with pytest.raises(CorpusError, match="leaves no clip"):
        without_speakers(build_index_of(dev_corpus), list(build_index_of(dev_corpus).speakers()))
