"""results.md: what `tonecue-train` reports, rendered from its results.json.

    from tonecue.train.report import render_markdown
    (out / "results.md").write_text(render_markdown(results))

Only reads the results dictionary `tonecue.train.run.run_training` builds (the same one it writes
as results.json), so a run's report can be rendered again from its folder.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from tonecue.train import models as registry

__all__ = ["render_markdown"]

def _f(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.3f}"


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s ({seconds / 60:.1f} min)"


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _conditions_table(results: dict[str, Any], add: Callable[[str], None]) -> None:
    """The test conditions (tonecue.train.conditions) beside the clean figures, clip UAR."""
    names = list(results["config"]["conditions"])
    if not names:
        return
    add("")
    add("**Test conditions** (clip UAR; `tonecue.train.conditions`): each protocol's models on their own test "
        "clips with ESC-10 fold 5 (held out from training and augmentation) mixed in at an SNR, or with a random "
        "gain of 10-20 dB up or down, clipped at full scale. Under speaker normalization: online / cold.")
    add("")
    add("| model | protocol | clean | " + " | ".join(names) + " |")
    add("|---|---|---|" + "---|" * len(names))
    for protocol in ("speaker", "corpus"):
        entry = results["protocols"].get(protocol)
        if not entry or "conditions" not in entry:
            continue
        # Leave one corpus out: the mean over the left-out corpora, as its headline figure.
        def uar(per_corpus: dict[str, float], pooled: float) -> float:
            return float(np.mean(list(per_corpus.values()))) if protocol == "corpus" else pooled

        for m in results["config"]["models"]:
            clean = entry["models"][m]
            cold = clean.get("normalization", {}).get("cold")
            cells = [_f(uar({c: v["uar"] for c, v in clean["clip"]["per_corpus"].items()}, clean["clip"]["overall"]["uar"]))]
            if cold:
                cells[0] += " / " + _f(uar({c: v["uar"] for c, v in cold["clip"]["per_corpus"].items()}, cold["clip"]["overall"]["uar"]))
            for name in names:
                c = entry["conditions"][name][m]
                cells.append(" / ".join(_f(uar(c[v]["per_corpus_clip_uar"], c[v]["clip_uar"])) for v in ("online", "cold") if v in c))
            title = "speaker-grouped" if protocol == "speaker" else "leave one corpus out (mean)"
            add(f"| {m} | {title} | " + " | ".join(cells) + " |")


def render_markdown(results: dict[str, Any]) -> str:
    """results.md: data, both protocols, every model, per corpus, hardware and wall time."""
    from tonecue.edge.spec import FrontendSpec

    data, config, hw = results["data"], results["config"], results["hardware"]
    classes = results["classes"]
    models = config["models"]
    family = {m: registry.get(m).family for m in models}
    corpora = list(data["corpora"])
    spk, rnd = results["protocols"]["speaker"], results["protocols"]["random"]
    k = config["folds"]
    lines: list[str] = []
    add = lines.append
    add("# tonecue-train results")
    add("")
    if results.get("quick"):
        add("**--quick smoke run: tiny epochs and featurewiz sample; these numbers mean nothing.**")
        add("")
    add(f"Created {results['created']}" + (f" by `{results['command']}`" if results.get("command") else "") + ".")
    add("")
    add(f"Two protocols, both always reported: **speaker-grouped** ({k} folds, no speaker in both train and "
        "test; pooled out-of-fold predictions) — the number that decides which model ships — and the seed's "
        "**random** 80/20 clip split, which puts the same speakers on both sides and flatters every model.")
    add("")
    add("## Summary: UAR (unweighted average recall)")
    add("")
    add(f"| model | speaker-grouped, clip | speaker-grouped, window | per-fold clip UAR (mean ± std, {k} folds) | random split, clip | random split, window |")
    add("|---|---|---|---|---|---|")
    for row in results["summary"]:
        add(f"| {registry.get(row['model']).title} (`{row['model']}`) | **{_f(row['speaker_uar_clip'])}** | "
            f"{_f(row['speaker_uar_window'])} | {_f(row['speaker_fold_uar_clip_mean'])} ± "
            f"{_f(row['speaker_fold_uar_clip_std'])} | {_f(row['random_uar_clip'])} | {_f(row['random_uar_window'])} |")
    if any(row.get("corpus_uar_clip_mean") is not None for row in results["summary"]):
        add("")
        add("**Leave one corpus out** (train on the other corpora, test on this one; clip UAR):")
        add("")
        loco = results["protocols"]["corpus"]["models"]
        add("| model | mean over corpora | " + " | ".join(corpora) + " |")
        add("|---|---|" + "---|" * len(corpora))
        for row in results["summary"]:
            per = loco[row["model"]]["clip"]["per_corpus"]
            add(f"| {row['model']} | **{_f(row['corpus_uar_clip_mean'])}** | "
                + " | ".join(_f(per[c]["uar"]) if c in per else "–" for c in corpora) + " |")
    if any(row.get("speaker_uar_clip_cold") is not None for row in results["summary"]):
        add("")
        add("**Speaker normalization** (speaker-grouped, clip UAR): *online* is the device's running estimate "
            "over each test voice's clips in a random order (the headline figures above); *cold* uses the "
            "training prior alone (a voice just met); *full* uses each test speaker's own statistics "
            "(the optimistic bound: a wearer's partner does not speak every emotion equally).")
        add("")
        add("| model | cold | online | full |")
        add("|---|---|---|---|")
        for row in results["summary"]:
            if row.get("speaker_uar_clip_cold") is not None:
                add(f"| {row['model']} | {_f(row['speaker_uar_clip_cold'])} | {_f(row['speaker_uar_clip'])} | "
                    f"{_f(row['speaker_uar_clip_full'])} |")
    calibrated = {m: spk["models"][m].get("calibration") for m in models}
    if any(calibrated.values()):
        add("")
        add("**Calibration** (window probabilities; `tonecue.train.calibrate`): the temperature that minimizes "
            "the log-loss of the speaker-grouped out-of-fold windows, which the device applies; expected "
            "calibration error (10 bins) and log-loss before → after, there and on the leave-one-corpus-out "
            "windows it was not fitted on.")
        add("")
        add("| model | temperature | ECE, speaker-grouped | log-loss | ECE, leave-one-corpus-out | log-loss |")
        add("|---|---|---|---|---|---|")
        for m, c in calibrated.items():
            if not c:
                continue
            cells = [f"{c['temperature']:.3f}"]
            for protocol in ("speaker", "corpus"):
                r = c.get(protocol)
                cells += ([f"{r['ece']:.3f} → {r['ece_scaled']:.3f}", f"{r['log_loss']:.3f} → {r['log_loss_scaled']:.3f}"]
                          if r else ["–", "–"])
            add(f"| {m} | " + " | ".join(cells) + " |")
    _conditions_table(results, add)
    best = max(results["summary"], key=lambda r: -1 if np.isnan(r["speaker_uar_clip"]) else r["speaker_uar_clip"])
    add("")
    add(f"Best by speaker-grouped clip-level UAR: **{registry.get(best['model']).title}** ({_f(best['speaker_uar_clip'])}). "
        f"Chance is {1 / len(classes):.3f}. A clip's prediction is the mean of its windows' probabilities.")
    add("")

    add("## Data")
    add("")
    add(f"`{data['root']}`: {data['clips']} clips ({data['seconds_audio'] / 60:.1f} min of audio) from "
        f"{data['speakers']} speakers, cut into {data['windows']} voiced windows "
        f"({FrontendSpec.from_dict(config['frontend']).window_seconds:.2f} s, {config['hop_frames']} frames apart; "
        f"{data['windows_cut']} cut). Classes: {', '.join(classes)}"
        + (" (RAVDESS calm counted as neutral)" if "calm" in config["label_map"]["mapping"] else "") + ".")
    add("")
    add(f"| corpus | speakers | {' | '.join(classes)} | clips | windows |")
    add("|---|---|" + "---|" * len(classes) + "---|---|")
    for corpus, d in data["corpora"].items():
        add(f"| {corpus} | {d['speakers']} | " + " | ".join(str(d['clips_per_class'][c]) for c in classes)
            + f" | {d['clips']} | {d['windows']} |")
    skipped = data["clips_skipped"]
    add("")
    add(f"Clips skipped as unreadable: {len(skipped)}" + (": " + "; ".join(f"`{s['path']}` ({s['reason']})" for s in skipped[:20]) if skipped else "")
        + (" …" if len(skipped) > 20 else "") + f". Clips without a voiced window (kept their loudest window): {data['clips_without_voice']}.")
    add("")

    add("## Protocols")
    add("")
    add(f"- **Speaker-grouped**: {spk['description']}")
    for s in spk["splits"]:
        fw = s.get("featurewiz") or {}
        add(f"  - {s['name']}: test {s['test']['clips']} clips of {', '.join(s['test']['speaker_ids'])}; "
            f"train {s['train']['clips']} clips ({s['train']['speakers']} speakers), nets validate on "
            f"{', '.join(s['val'].get('speaker_ids', []))} ({s['val']['clips']} clips)"
            + (f"; featurewiz kept {fw['selected']} statistics" if fw else ""))
    add(f"- **Random**: {rnd['description']}")
    for s in rnd["splits"]:
        add(f"  - train {s['train']['clips']} clips (fit {s['fit']['clips']}, validation {s['val']['clips']}), "
            f"test {s['test']['clips']} clips")
    fits = []
    classic = [m.upper() for m in models if family[m] == "classic"]
    if classic:
        fits.append(f"{_and(classic)} fit on all training windows")
    if "net" in family.values():
        fits.append("the nets fit on the fit side and keep their best epoch on the validation side")
    add("- In every split featurewiz selects the statistics on that split's training windows only "
        f"(a stratified sample of at most {config['budget']['featurewiz_rows']}); " + "; ".join(fits) + ".")
    add("")

    blocks = [("speaker", "Speaker-grouped (pooled out of fold)"), ("random", "Random 80/20 clip split")]
    if results["protocols"].get("corpus", {}).get("models"):
        blocks.append(("corpus", "Leave one corpus out (pooled)"))
    for protocol, title in blocks:
        block = results["protocols"][protocol]["models"]
        for level in ("clip", "window"):
            add(f"## {title}, {level} level")
            add("")
            header = "| model | accuracy | UAR | macro-F1 | " + " | ".join(f"{c} UAR" for c in corpora) + " |"
            add(header)
            add("|---|---|---|---|" + "---|" * len(corpora))
            for m in models:
                o = block[m][level]["overall"]
                per = block[m][level]["per_corpus"]
                add(f"| {m} | {_f(o['accuracy'])} | {_f(o['uar'])} | {_f(o['macro_f1'])} | "
                    + " | ".join(_f(per[c]["uar"]) if c in per else "–" for c in corpora) + " |")
            add("")
        add(f"Per-class recall, {title[0].lower() + title[1:]}, clip level:")
        add("")
        for m in models:
            rec = block[m]["clip"]["overall"]["recall"]
            add(f"- {m}: " + ", ".join(f"{c} {_f(r)}" for c, r in zip(classes, rec)))
        add("")

    add("## Confusion matrices (clip level; rows true, columns predicted)")
    add("")
    add("| model | speaker-grouped | random split |")
    add("|---|---|---|")
    for m in models:
        plots = results["confusion_png"]
        add(f"| {m} | ![{m} speaker]({plots[f'{m}_speaker_clip']}) | ![{m} random]({plots[f'{m}_random_clip']}) |")
    add("")

    add("## Settings, hardware and time")
    add("")
    budget = config["budget"]
    add(f"- Seed {config['seed']}; {k} speaker folds; random test share {config['test_size']}; "
        f"validation share {config['val_fraction']}.")
    nets = [m for m in models if family[m] == "net"]
    add(f"- featurewiz on at most {budget['featurewiz_rows']} training windows per split (stratified by corpus and class)"
        + ("; " + "; ".join(f"{m} ≤ {budget['epochs'][m]} epochs"
                            + (f", patience {budget['patience'][m]}" if budget['patience'][m] else ", no early stop")
                            for m in nets) + " (best validation epoch kept)" if nets else "")
        + ".")
    gpu = f", GPU {hw['gpu']}" if hw.get("gpu") else ""
    add(f"- Hardware: {hw['cpu']}, {hw['cores']} cores ({hw['usable_cores']} usable), torch device "
        f"**{hw['torch_device']}**{gpu}, {hw['torch_threads']} torch threads; {hw['platform']}.")
    add("- Versions: " + ", ".join(f"{k_} {v}" for k_, v in results["versions"].items() if v))
    timing = results["timing"]
    cache = data.get("feature_cache")
    cached = (f"; window features of {cache['hits']} of {cache['hits'] + cache['misses']} clips came from "
              "the feature cache" if cache else "")
    add(f"- **Wall time: {_minutes(timing['total_seconds'])}** for everything (index, windows, "
        f"{1 + k} evaluation fits and the final fit of every model{cached}).")
    add("")
    add("| stage | seconds |")
    add("|---|---|")
    for stage, seconds in timing["stages"].items():
        add(f"| {stage} | {seconds:.1f} |")
    add("")
    add("Stages named after a model sum that model's fits over all splits (they are part of the protocol "
        "and final-fit stages, which include featurewiz).")
    add("")
    return "\n".join(lines)
