"""Splits and metrics of tonecue.train.evaluate: no speaker leaks, seeded splits, sklearn's numbers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score

from tonecue.train import evaluate as ev
from tonecue.train.evaluate import ClipTable


def make_table(per_speaker: dict[str, int], n_classes: int = 4, seed: int = 0) -> ClipTable:
    """Clips of speakers "corpus:name" with `n` clips each, labels cycling through the classes."""
    speakers, corpora, labels = [], [], []
    rng = np.random.default_rng(seed)
    for speaker, n in per_speaker.items():
        speakers += [speaker] * n
        corpora += [speaker.split(":")[0]] * n
        labels += list(rng.permutation(np.arange(n) % n_classes))
    return ClipTable(np.array(labels, dtype=np.int64), np.array(speakers), np.array(corpora))


# Shaped like the dev corpus: 18 RAVDESS actors, 3 SAVEE speakers, 2 big TESS voices.
DEV_LIKE = {
    **{f"ravdess:{i:02d}": 28 for i in range(1, 19)},
    **{f"savee:{s}": 75 for s in ("DC", "JE", "JK")},
    "tess:OAF": 432,
    "tess:YAF": 432,
}


# ------------------------------------------------------------------------------------ splits


@pytest.mark.parametrize("k", [2, 3, 5])
def test_speaker_folds_partition_speakers(k):
    table = make_table(DEV_LIKE)
    folds = ev.speaker_folds(table.speakers, k, seed=3, clip_corpora=table.corpora)
    assert len(folds) == k
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(table)))  # every clip tested exactly once
    for train, test in folds:
        assert not set(train) & set(test)
        assert len(train) + len(test) == len(table)
        assert not set(table.speakers[train]) & set(table.speakers[test])
    # every speaker is tested in exactly one fold
    fold_of = {}
    for f, (_, test) in enumerate(folds):
        for s in set(table.speakers[test]):
            assert s not in fold_of
            fold_of[s] = f
    assert set(fold_of) == set(DEV_LIKE)


def test_speaker_folds_balance_and_seed():
    table = make_table({f"ravdess:{i:02d}": 20 + i for i in range(1, 21)})
    folds = ev.speaker_folds(table.speakers, 5, seed=0)
    sizes = [len(test) for _, test in folds]
    assert max(sizes) - min(sizes) <= 24 + 5  # LPT: within about one speaker's clips
    again = ev.speaker_folds(table.speakers, 5, seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    other = ev.speaker_folds(table.speakers, 5, seed=1)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(folds, other))


def test_speaker_folds_need_enough_speakers():
    table = make_table({"savee:DC": 8, "savee:JE": 8})
    with pytest.raises(ValueError, match="at least 3 speakers"):
        ev.speaker_folds(table.speakers, 3)
    with pytest.raises(ValueError, match="at least 2"):
        ev.speaker_folds(table.speakers, 1)


def test_random_split_is_clip_level_stratified_and_seeded():
    table = make_table(DEV_LIKE)
    train, test = ev.random_clip_split(table.labels, 0.2, seed=7)
    assert not set(train) & set(test)
    assert len(train) + len(test) == len(table)
    assert len(test) == int(np.ceil(0.2 * len(table)))
    overall = np.bincount(table.labels) / len(table)
    in_test = np.bincount(table.labels[test], minlength=4) / len(test)
    np.testing.assert_allclose(in_test, overall, atol=0.01)  # stratified
    again = ev.random_clip_split(table.labels, 0.2, seed=7)
    np.testing.assert_array_equal(test, again[1])
    assert not np.array_equal(test, ev.random_clip_split(table.labels, 0.2, seed=8)[1])
    # it mixes speakers: the flattering part of the seed's protocol
    assert set(table.speakers[train]) & set(table.speakers[test])


def test_random_split_windows_follow_their_clip():
    clip_ids = np.repeat(np.arange(30), 3)  # three windows per clip
    labels = np.arange(30) % 3
    train, test = ev.random_clip_split(labels, 0.2, seed=0)
    train_w, test_w = np.isin(clip_ids, train), np.isin(clip_ids, test)
    assert not (train_w & test_w).any() and (train_w | test_w).all()
    assert set(clip_ids[test_w]) == set(test.tolist())


def test_speaker_validation_is_drawn_from_training_speakers():
    table = make_table(DEV_LIKE)
    for f, split in enumerate(ev.speaker_protocol(table, k=5, seed=0)):
        ev.check_split(split, table, grouped=True)
        fit_spk, val_spk, test_spk = (set(table.speakers[a]) for a in (split.fit, split.val, split.test))
        assert val_spk and not val_spk & test_spk and not val_spk & fit_spk
        assert split.val_by == "speaker"
        share = len(split.val) / len(split.train)
        assert 0.05 < share < 0.3, (split.name, share)
        # no corpus vanishes from the fit side: at most half of a corpus's training speakers validate
        for corpus in set(table.corpora[split.train]):
            n_train = len(set(table.speakers[split.train][table.corpora[split.train] == corpus]))
            n_val = len(set(table.speakers[split.val][table.corpora[split.val] == corpus]))
            assert n_val <= n_train // 2


def test_speaker_validation_of_everything_is_seeded_and_spares_big_voices():
    table = make_table(DEV_LIKE)
    fit, val = ev.speaker_validation(np.arange(len(table)), table, seed=0)
    assert not set(table.speakers[fit]) & set(table.speakers[val])
    assert "tess" not in set(table.corpora[val])  # one TESS voice would be 27% of the clips
    assert len(set(table.speakers[val][table.corpora[val] == "savee"])) <= 1
    again = ev.speaker_validation(np.arange(len(table)), table, seed=0)
    np.testing.assert_array_equal(val, again[1])


def test_speaker_validation_needs_two_speakers():
    table = make_table({"savee:DC": 8})
    with pytest.raises(ValueError, match="two training speakers"):
        ev.speaker_validation(np.arange(8), table)


def test_random_protocol_validation_is_within_training():
    table = make_table(DEV_LIKE)
    (split,) = ev.random_protocol(table, seed=0)
    assert split.val_by == "clip"
    assert set(split.val) <= set(split.train) and not set(split.val) & set(split.test)
    assert abs(len(split.val) / len(split.train) - 0.15) < 0.01


def test_check_split_catches_a_leak():
    table = make_table({"savee:DC": 8, "savee:JE": 8, "savee:JK": 8})
    leak = ev.Split("bad", np.arange(0, 12), np.arange(12, 24), np.arange(0, 10), np.arange(10, 12), "clip")
    with pytest.raises(AssertionError, match="on both sides"):
        ev.check_split(leak, table, grouped=True)
    ev.check_split(leak, table, grouped=False)  # clip-disjoint, so fine for the random protocol


# ----------------------------------------------------------------------------------- metrics


def test_metrics_by_hand():
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 3])
    y_pred = np.array([0, 0, 1, 3, 1, 1, 2, 0, 2, 3])
    m = ev.classification_metrics(y_true, y_pred, 4)
    assert m["accuracy"] == pytest.approx(7 / 10)
    # recalls 2/4, 2/2, 2/3, 1/1
    assert m["recall"] == pytest.approx([0.5, 1.0, 2 / 3, 1.0])
    assert m["uar"] == pytest.approx((0.5 + 1 + 2 / 3 + 1) / 4)
    assert m["confusion"] == [[2, 1, 0, 1], [0, 2, 0, 0], [1, 0, 2, 0], [0, 0, 0, 1]]
    assert m["support"] == [4, 2, 3, 1]
    # precisions 2/3, 2/3, 1, 1/2 -> F1s 4/7, 4/5, 4/5, 2/3
    assert m["macro_f1"] == pytest.approx((4 / 7 + 0.8 + 0.8 + 2 / 3) / 4)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 4, 60)
    y_pred = np.where(rng.random(60) < 0.6, y_true, rng.integers(0, 4, 60))
    if seed == 4:
        y_true[y_true == 3] = 2  # a class absent from y_true: UAR averages the present classes
    m = ev.classification_metrics(y_true, y_pred, 4)
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert m["uar"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert m["uar"] == pytest.approx(ev.unweighted_average_recall(y_true, y_pred))
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))
    np.testing.assert_array_equal(m["confusion"], confusion_matrix(y_true, y_pred, labels=range(4)))


def test_clip_probabilities_are_window_means():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.6, 0.4], [0.5, 0.5]])
    clip_ids = np.array([7, 7, 3, 3, 3])
    ids, clip_proba = ev.clip_probabilities(proba, clip_ids)
    np.testing.assert_array_equal(ids, [3, 7])
    np.testing.assert_allclose(clip_proba, [[0.4, 0.6], [0.55, 0.45]])


def test_evaluate_predictions_window_and_clip_levels():
    # clip 0 (class 0, corpus a): windows right, wrong, right -> clip right
    # clip 1 (class 1, corpus a): one window, wrong -> clip wrong
    # clip 2 (class 1, corpus b): windows wrong (barely), right (strongly) -> clip right
    proba = np.array([[0.8, 0.2], [0.4, 0.6], [0.7, 0.3], [0.9, 0.1], [0.55, 0.45], [0.1, 0.9]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    clip_ids = np.array([0, 0, 0, 1, 2, 2])
    corpora = np.array(["a", "a", "a", "a", "b", "b"])
    result = ev.evaluate_predictions(proba, labels, clip_ids, corpora, ("x", "y"))
    window, clip = result["window"], result["clip"]
    assert window["overall"]["n"] == 6 and clip["overall"]["n"] == 3
    assert window["overall"]["accuracy"] == pytest.approx(3 / 6)
    assert clip["overall"]["accuracy"] == pytest.approx(2 / 3)
    assert clip["overall"]["uar"] == pytest.approx((1 + 0.5) / 2)
    assert set(clip["per_corpus"]) == {"a", "b"}
    assert clip["per_corpus"]["a"]["confusion"] == [[1, 0], [1, 0]]
    assert clip["per_corpus"]["b"]["accuracy"] == 1.0
    with pytest.raises(ValueError, match="different labels"):
        ev.evaluate_predictions(proba, np.array([0, 1, 0, 1, 1, 1]), clip_ids, corpora, ("x", "y"))


def test_fold_summary():
    s = ev.fold_summary([0.5, 0.7])
    assert s["mean"] == pytest.approx(0.6) and s["std"] == pytest.approx(0.1)


def test_plot_confusion_writes_a_small_png(tmp_path):
    path = ev.plot_confusion([[5, 1, 0, 0], [2, 3, 1, 0], [0, 0, 6, 0], [1, 0, 0, 4]],
                             ("angry", "happy", "sad", "neutral"), tmp_path / "sub" / "cm.png", "rf")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) < 60_000
