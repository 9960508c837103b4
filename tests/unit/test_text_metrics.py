"""METEOR, ROUGE-L and BERTScore against calling NLTK, rouge_score and bert_score directly, plus values worked out
by hand (METEOR: Fmean = PR / (αP + (1−α)R), penalty γ·(chunks/matches)^β with α .9, β 3, γ .5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.eval import text_metrics as tm

PAIRS = [
    ("Go lower, bend your knees more!", "Bend the knees more and go lower."),
    ("Keep your back straight. Good job!", "Keep the back straight, good job."),
    ("Right knee flexion 65° (target: 90°).", "Knee flexion 80°, target 90°: sit deeper."),
    ("Three more!", "3 more reps"),
    ("Nice and relaxed.", "Breathe and relax, nice."),
]


@pytest.fixture(scope="module")
def nltk_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nltk_data")
    tm.wordnet_data_dir(root)
    return root


def test_wordnet_is_copied_not_linked_and_lexnames_written(nltk_root: Path) -> None:
    folder = nltk_root / "corpora" / "wordnet"
    for name in tm.WORDNET_FILES:
        assert (folder / name).is_file() and not (folder / name).is_symlink()
        assert (folder / name).stat().st_size == (tm.WORDNET_SOURCE / name).stat().st_size
    lines = (folder / "lexnames").read_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3" and lines[3] == "03\tnoun.Tops\t1" and lines[29] == "29\tverb.body\t2"
    assert lines[44] == "44\tadj.ppl\t3"


def test_missing_wordnet_names_the_packages(tmp_path: Path) -> None:
    with pytest.raises(tm.MetricSetupError, match="wordnet-base"):
        tm.wordnet_data_dir(tmp_path / "x", source=tmp_path / "nowhere")


def test_meteor_hand_worked_values(nltk_root: Path) -> None:
    # 3 exact matches in one chunk: 1 − 0.5·(1/3)³
    assert tm.meteor("the cat sat", "the cat sat", wordnet_root=nltk_root) == pytest.approx(1 - 0.5 / 27)
    # "leap" matches "jump" only through a WordNet synonym: one match, one chunk → 1 − 0.5 = 0.5
    assert tm.meteor("jump", "leap", wordnet_root=nltk_root) == pytest.approx(0.5)
    # bend ~ flex (synonym stage) plus two exact matches in order: one chunk of 3
    assert tm.meteor("bend your knees", "flex your knees", wordnet_root=nltk_root) == pytest.approx(1 - 0.5 / 27)
    assert tm.meteor("squat", "plank", wordnet_root=nltk_root) == 0.0


def test_meteor_equals_nltk_called_directly(nltk_root: Path) -> None:
    from nltk.translate.meteor_score import meteor_score

    wn = tm._wordnet(str(nltk_root))  # a plain nltk WordNetCorpusReader on the copied files (loaded once)
    for ref, hyp in PAIRS:
        direct = meteor_score([tm.tokenize(ref)], tm.tokenize(hyp), wordnet=wn, alpha=0.9, beta=3.0, gamma=0.5)
        assert tm.meteor(ref, hyp, wordnet_root=nltk_root) == direct


def test_tokenizer_is_nltks_treebank_path() -> None:
    from nltk.tokenize import NLTKWordTokenizer, word_tokenize

    one = "Don't let your knees cave in, push them out!"
    assert tm.tokenize(one) == word_tokenize(one, preserve_line=True) == NLTKWordTokenizer().tokenize(one)
    assert tm.tokenize(one)[:3] == ["Do", "n't", "let"]
    # two sentences: split first (as word_tokenize does), so "job." becomes "job" + "."
    assert tm.tokenize("Good job. Keep going.") == ["Good", "job", ".", "Keep", "going", "."]


def test_tokenizer_equals_word_tokenize_when_punkt_is_installed() -> None:
    if not tm._has_punkt_tab():
        pytest.skip("NLTK's punkt_tab data is not installed (it is a download); the offline path is used")
    from nltk.tokenize import word_tokenize

    for ref, hyp in PAIRS:
        assert tm.tokenize(ref) == word_tokenize(ref) and tm.tokenize(hyp) == word_tokenize(hyp)


def test_rouge_l_equals_rouge_score_and_uses_no_stemmer() -> None:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    for ref, hyp in PAIRS:
        assert tm.rouge_l(ref, hyp) == scorer.score(ref, hyp)["rougeL"].fmeasure
    assert tm.rouge_l("a b c d", "a c d e") == pytest.approx(0.75)  # LCS 3 of 4 both ways
    assert tm.rouge_l("running fast", "run fast") == pytest.approx(0.5)  # a stemmer would make this 1.0


def test_mean_is_the_references_running_mean() -> None:
    assert tm.mean([]) == 0.0
    assert tm.mean([0.5, 1.0]) == pytest.approx(0.75)


@pytest.mark.slow
def test_bertscore_with_the_packaged_minilm_equals_bert_score_directly() -> None:
    from bert_score import score

    scorer = tm.bert_scorer(None)
    assert "all-MiniLM-L6-v2" in scorer.name and scorer.num_layers == 6
    refs, hyps = [p[0] for p in PAIRS], [p[1] for p in PAIRS]
    ours = scorer.score([*refs, "Keep your chest up."], [*hyps, "Keep your chest up."])
    _, _, f1 = score(hyps, refs, model_type=scorer.model_path, num_layers=6, idf=False, rescale_with_baseline=False)
    assert ours[:-1] == pytest.approx([float(x) for x in f1], abs=1e-6)
    assert ours[-1] == pytest.approx(1.0, abs=1e-5)  # identical sentences: every token matches itself


def test_configured_bertscore_model_must_exist(tmp_path: Path) -> None:
    from workbench.config import Config, MissingModelError

    with pytest.raises(MissingModelError, match="roberta-large"):
        tm.bert_scorer(Config(bertscore_model=tmp_path / "roberta-large"))
    (tmp_path / "roberta-large").mkdir()
    s = tm.bert_scorer(Config(bertscore_model=tmp_path / "roberta-large"))
    assert (s.num_layers, s.name) == (17, "roberta-large (layer 17)")
