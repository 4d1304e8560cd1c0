"""``PiiAnalyzer``: Presidio's recognizers run over segments, batched, behind ``AnonymizePii``.

The same recognizers as Presidio, less work:

1. Each text is cut into segments (``segments.segments``: paragraphs; long paragraphs into
   line groups). Findings are a pure function of the segment text, so a repeated segment
   (boilerplate, signatures, headers, quoted replies) is analyzed once per worker (a bounded
   LRU cache) and once per batch.
2. Multi-line recognizers (PEM private keys) run on the whole text first; their spans are
   blanked out of the segments.
3. NER runs only where it can matter: on the sentences holding a word that could start a name
   (``names.could_hold_name``), and only the ``ner`` component: en_core_web_sm's NER carries
   its own Tok2Vec, so the shared ``tok2vec``, tagger, parser and lemmatizer are all skipped
   (context enhancement uses lower-cased tokens, which Presidio's substring context matching
   handles). Other sentences get a tokenizer-only doc: the pattern recognizers still run.
4. All-capital segments (clinical notes, logs) are title-cased before NER (same length, so
   offsets hold), which recovers names the small model misses in capitals. Segments of
   lower-case prose (chat, social media) are truecased from spaCy's tagger and analyzed on that
   view (same length again); code and shouting are not (``truecase``).
5. NER-bound segments go through ``nlp.pipe`` in batches; each entity type's recognizers run
   only where its cheap gate passes (``gates``).

Document-level recall, after the segments (``names``): the name on a mailing label above a
street address, and the other mentions of a detected name's parts (``directed by Maciej
Borkowski and starring Borkowski``), looked for over the whole unit of propagation: a
document's text, or every turn of a conversation (``analyze_groups``). Then ``spans.resolve``
removes known false positives and resolves overlaps, deterministically.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from thresher.config import PiiConfig
from thresher.pii.dates import keep_years
from thresher.pii.engine import (
    NER_ENTITIES,
    build_analyzer,
    build_nlp_engine,
    ner_components,
    require_supported,
)
from thresher.pii.gates import gate
from thresher.pii.greedy_ner import GreedyNer, TokenRows, supports
from thresher.pii.names import (
    could_hold_name,
    join_name_parts,
    mailing_label_names,
    name_like_spans,
    person_name_parts,
    propagate_person_lists,
    propagate_person_mentions,
)
from thresher.pii.operators import Detection
from thresher.pii.presidio_compat import artifacts, ner_entities_and_scores
from thresher.pii.segments import segments, sentence_runs
from thresher.pii.spans import blank, resolve, shift
from thresher.pii.truecase import lowercase_prose, restore_case, restore_case_words, truecase

# Recognizers that need the whole text (a PEM key spans paragraphs); run before segmenting.
_DOC_LEVEL_RECOGNIZERS = ("PrivateKeyRecognizer",)
# Distinct lemmas whose keyword verdicts are kept (``presidio_compat.keywords``); cleared when
# larger, so a long run's vocabulary cannot grow it without bound.
_KEYWORD_MEMO_MAX = 200_000


class PiiAnalyzer:
    """Detection for ``AnonymizePii``: Presidio's recognizers over segments, batched.

    Build once per worker (it loads spaCy and the recognizers); ``analyze_batch`` is safe to
    call repeatedly. ``fast=False`` analyzes every segment with the full pipeline (the audit's
    high-recall mode).
    """

    def __init__(self, cfg: PiiConfig, *, fast: bool = True, score_threshold: float | None = None):
        self.cfg = cfg
        self.fast = fast
        self.score_threshold = cfg.score_threshold if score_threshold is None else score_threshold
        self.nlp_engine = build_nlp_engine(cfg.spacy_model, cfg.language)
        self.analyzer = build_analyzer(cfg, self.nlp_engine)
        self.nlp = self.nlp_engine.get_nlp(cfg.language)
        self.entities = list(cfg.entities)
        require_supported(self.entities, self.analyzer.get_supported_entities(cfg.language))
        self.needs_ner = bool(NER_ENTITIES & set(self.entities))
        self._doc_level = self._take_doc_level_recognizers()
        doc_only = {e for r in self._doc_level for e in r.supported_entities}
        segment_supported = set(self.analyzer.get_supported_entities(cfg.language))
        self._segment_entities = [
            e for e in self.entities if e in segment_supported or e not in doc_only
        ]
        self._stop = _stop_words()
        self._keyword_memo: dict[str, tuple[str, ...]] = {}
        # a NER piece's leading white space -> its rows as a doc of its own (``_lead_rows``)
        self._lead_memo: dict[str, tuple[Any, Any] | None] = {}
        # Pattern recognizers of NER types (titles, addresses, user YAML) must run even on
        # segments where NER found nothing.
        self._ner_patterns = any(
            set(r.supported_entities) & NER_ENTITIES & set(self.entities)
            and r.__class__.__name__ != "SpacyRecognizer"
            for r in self.analyzer.registry.recognizers
        )
        needed = ner_components(self.nlp)
        self._disabled = [p for p in self.nlp.pipe_names if p not in needed] if fast else []
        # spaCy's own decoding loop costs more than its network here (greedy_ner's docstring);
        # the numpy decoder gives the same entities for the models it supports.
        self._greedy = (
            GreedyNer(self.nlp.get_pipe("ner"))
            if fast and needed == ("ner",) and supports(self.nlp.get_pipe("ner"))
            else None
        )
        self._cache: OrderedDict[str, tuple[Detection, ...]] = OrderedDict()
        # Beam shares one analyzer between a worker's threads (``Shared``): without the lock,
        # one thread's eviction between another's lookup and its move_to_end raised KeyError.
        self._cache_lock = threading.Lock()
        self.stats: dict[str, int] = {
            "segments": 0,
            "segments_cached": 0,
            "segments_ner": 0,
            "ner_chars": 0,
        }

    def _take_doc_level_recognizers(self) -> list[Any]:
        """Move the whole-text recognizers out of the segment analyzer's registry; keep those
        that detect a wanted type."""
        registry = self.analyzer.registry
        taken = [r for r in registry.recognizers if r.name in _DOC_LEVEL_RECOGNIZERS]
        for r in taken:
            registry.recognizers.remove(r)
        return [r for r in taken if set(r.supported_entities) & set(self.entities)]

    # -- decisions ---------------------------------------------------------------------
    def could_hold_name(self, segment: str) -> bool:
        """``names.could_hold_name`` with spaCy's English stop words."""
        return could_hold_name(segment, self._stop)

    def candidate_runs(self, segment: str) -> list[tuple[int, int]]:
        """Maximal runs of consecutive sentences (or lines) that hold a name candidate,
        judged on the case-restored view of an all-capital segment.

        (Cropping further, to a window of words around each candidate, cut NER input by
        another 9% on the speed corpus but lost recall on the quality set: not done.)"""
        view = restore_case(segment) if self.cfg.restore_case else None
        return sentence_runs(segment, self.could_hold_name, view)

    # -- analysis ----------------------------------------------------------------------
    def analyze_batch(self, texts: Sequence[str]) -> list[list[Detection]]:
        """Resolved detections (input offsets) for each text, in order; each text is its own
        unit of mention propagation (a document)."""
        return [found for (found,) in self.analyze_groups([[text] for text in texts])]

    def analyze_groups(self, groups: Sequence[Sequence[str]]) -> list[list[list[Detection]]]:
        """Resolved detections (input offsets) for each text of each group, in order.

        A group is the unit of mention propagation: one document's text, or the turns of one
        conversation, where a name found in one turn marks its mentions in every other turn.
        Everything else (segments, the segment cache, the mailing label, the address that runs
        on over paragraphs, ``resolve``) works text by text, so a group of one text gives the
        document result exactly. Every text of every group is analyzed in one batch."""
        texts = [text for group in groups for text in group]
        local = self._local_detections(texts)
        out = []
        start = 0
        for group in groups:
            out.append(self._group_level(group, local[start : start + len(group)]))
            start += len(group)
        return out

    def _local_detections(self, texts: Sequence[str]) -> list[list[Detection]]:
        """Per text: segment detections, then the recall that needs the whole text but no
        other text (an address over paragraphs, the name on a mailing label)."""
        doc_dets = [self._doc_level_detections(text) for text in texts]
        blanked = [
            blank(t, found) if found else t for t, found in zip(texts, doc_dets, strict=True)
        ]
        spans = [segments(t) for t in blanked]
        wanted = {blanked[i][s:e] for i, ss in enumerate(spans) for s, e in ss}
        results = self._analyze_segments(wanted)
        out = []
        for i, text in enumerate(texts):
            dets = list(doc_dets[i])
            for s, e in spans[i]:
                dets.extend(shift(results[blanked[i][s:e]], s))
            if len(spans[i]) > 1:
                dets = [self._across_segments(text, d) for d in dets]
            if "PERSON" in self.entities:
                dets = mailing_label_names(text, dets)
            out.append(dets)
        return out

    def _group_level(
        self, texts: Sequence[str], dets: Sequence[list[Detection]]
    ) -> list[list[Detection]]:
        """Mention propagation over the group (the parts of every text's names, looked for in
        every text), then each text's resolved set."""
        pairs = list(zip(texts, dets, strict=True))
        if "PERSON" in self.entities:
            parts = set().union(*(person_name_parts(t, d, self._stop) for t, d in pairs))
            pairs = [(t, propagate_person_mentions(t, d, self._stop, parts)) for t, d in pairs]
            pairs = [(t, join_name_parts(t, d, self._stop)) for t, d in pairs]
        out = []
        for text, found in pairs:
            if self.cfg.keep_years and "DATE_TIME" in self.entities:
                found = keep_years(text, found)
            out.append(resolve(text, found))
        return out

    @staticmethod
    def _across_segments(text: str, d: Detection) -> Detection:
        """An address found in one paragraph may continue in the next (town, country and
        postcode one per paragraph): extend street addresses over the document."""
        if d.entity_type != "LOCATION" or not any(c.isdigit() for c in text[d.start : d.end]):
            return d
        from thresher.pii.recognizers.street_address import extend_address

        end = extend_address(text, d.end)
        return d if end == d.end else Detection(d.start, end, d.entity_type, d.score)

    def _doc_level_detections(self, text: str) -> list[Detection]:
        dets: list[Detection] = []
        if "PRIVATE KEY" not in text:
            return dets
        for r in self._doc_level:
            for res in r.analyze(text, self.entities, None):
                if res.score >= self.score_threshold:
                    dets.append(Detection(res.start, res.end, res.entity_type, res.score))
        return dets

    def _analyze_segments(self, wanted: set[str]) -> dict[str, tuple[Detection, ...]]:
        results: dict[str, tuple[Detection, ...]] = {}
        todo = []
        for seg in sorted(wanted):  # sorted: batch composition does not depend on set order
            self.stats["segments"] += 1
            hit = self._cached(seg) if self.fast else None
            if hit is not None:
                self.stats["segments_cached"] += 1
                results[seg] = hit
            else:
                todo.append(seg)
        # Segments written without capitals are analyzed on a truecased view (same offsets).
        views = self._truecased(todo) if self.cfg.restore_case and self.needs_ner else {}
        inputs = [views.get(seg, seg) for seg in todo]
        docs = self._fast_docs(inputs) if self.fast else self._full_docs(inputs)
        for seg, (view, doc) in zip(todo, docs, strict=True):
            dets = self._analyze_doc(view, doc)
            results[seg] = dets
            if self.fast and self.cfg.cache_size:
                self._remember(seg, dets)
        return results

    def _cached(self, seg: str) -> tuple[Detection, ...] | None:
        with self._cache_lock:
            hit = self._cache.get(seg)
            if hit is not None:
                self._cache.move_to_end(seg)
            return hit

    def _remember(self, seg: str, dets: tuple[Detection, ...]) -> None:
        with self._cache_lock:
            self._cache[seg] = dets
            if len(self._cache) > self.cfg.cache_size:
                self._cache.popitem(last=False)

    def _truecased(self, todo: list[str]) -> dict[str, str]:
        """Truecased views of the lower-case prose segments (tok2vec + tagger on those only)."""
        lower = [seg for seg in todo if lowercase_prose(seg, self._stop)]
        if not lower or not self.nlp.has_pipe("tagger"):
            return {}
        keep = {"tok2vec", "tagger"}
        disable = [p for p in self.nlp.pipe_names if p not in keep]
        self.stats["segments_truecased"] = self.stats.get("segments_truecased", 0) + len(lower)
        piped = self.nlp.pipe(lower, batch_size=max(8, self.cfg.batch_size), disable=disable)
        return {seg: truecase(seg, doc, self._stop) for seg, doc in zip(lower, piped, strict=True)}

    def _full_docs(self, todo: list[str]) -> list[tuple[str, Any]]:
        """The whole pipeline on every segment (Presidio's own behaviour; audit mode)."""
        self.stats["segments_ner"] += len(todo) if self.needs_ner else 0
        if not self.needs_ner:
            return [(seg, self.nlp.make_doc(seg)) for seg in todo]
        inputs = [(restore_case(seg) if self.cfg.restore_case else None) or seg for seg in todo]
        piped = self.nlp.pipe(inputs, batch_size=max(8, self.cfg.batch_size))
        return list(zip(todo, piped, strict=True))

    def _fast_docs(self, todo: list[str]) -> list[tuple[str, Any]]:
        """Tokenizer-only docs for every segment; NER (tok2vec + ner only) on just the runs of
        sentences that hold a name candidate, its entities mapped back onto the segment doc."""
        docs = [(seg, self.nlp.make_doc(seg)) for seg in todo]
        if not self.needs_ner:
            return docs
        jobs, pieces = self._ner_pieces(todo)
        self.stats["ner_chars"] += sum(len(p) for p in pieces)
        batch_size = max(8, self.cfg.batch_size)
        if self._greedy is not None:
            texts, starts = self._ner_texts(docs, jobs, pieces)
            # its batches are bounded by tokens (greedy_ner._MAX_TOKENS); more short pieces per
            # batch means fewer decoding steps
            found = self._greedy.spans(texts, 4 * batch_size)
            _set_entity_spans(docs, jobs, texts, starts, found)
            return docs
        piped = self.nlp.pipe(pieces, batch_size=batch_size, disable=self._disabled)
        _set_entities(docs, jobs, piped)
        return docs

    def _ner_texts(
        self, docs: list[tuple[str, Any]], jobs: list[tuple[int, int]], pieces: list[str]
    ) -> tuple[list[Any], list[int | None]]:
        """What the decoder reads for each piece, and where its tokens start in its segment's
        doc (None for a doc of its own).

        A piece that is its segment's text (not case-restored) from the start of a word, or
        from white space before one, to the end of a word is tokenized exactly as that stretch
        of the segment doc: spaCy's tokenizer cuts text at white space first and tokenizes
        each stretch between on its own, and a text's leading white space becomes one token.
        Such a piece goes as ``TokenRows`` cut from the segment doc's arrays (the leading
        white space's row from a doc of it alone): the same rows the piece's own doc would
        give, without tokenizing it again. Any other piece gets its own tokenizer doc."""
        from spacy.attrs import IS_SPACE

        columns = self._greedy.columns if self._greedy is not None else None
        arrays: dict[int, tuple[Any, Any]] = {}
        texts: list[Any] = []
        starts: list[int | None] = []
        for (i, offset), piece in zip(jobs, pieces, strict=True):
            seg, doc = docs[i]
            run = _token_run(seg, doc, offset, piece) if columns is not None else None
            lead = self._lead_rows(run[2], columns) if run is not None and run[2] else None
            if run is None or (run[2] and lead is None):
                texts.append(self.nlp.make_doc(piece))
                starts.append(None)
                continue
            if i not in arrays:
                arrays[i] = (doc.to_array(columns), doc.to_array([IS_SPACE]).reshape(-1))
            rows, space = arrays[i]
            first, end, _ = run
            if lead is not None:
                texts.append(
                    TokenRows(
                        np.concatenate([lead[0], rows[first:end]]),
                        np.concatenate([lead[1], space[first:end]]),
                    )
                )
                starts.append(first - 1)
            else:
                texts.append(TokenRows(rows[first:end], space[first:end]))
                starts.append(first)
        return texts, starts

    def _lead_rows(self, blank: str, columns: Any) -> tuple[Any, Any] | None:
        """The feature rows and white-space flag of ``blank`` (a piece's leading white space)
        as a doc of its own, or None where that doc is not one token. Kept per worker."""
        from spacy.attrs import IS_SPACE

        if blank not in self._lead_memo:
            if len(self._lead_memo) > _KEYWORD_MEMO_MAX:
                self._lead_memo.clear()
            doc = self.nlp.make_doc(blank)
            self._lead_memo[blank] = (
                (doc.to_array(columns), doc.to_array([IS_SPACE]).reshape(-1))
                if len(doc) == 1
                else None
            )
        return self._lead_memo[blank]

    def _ner_pieces(self, todo: list[str]) -> tuple[list[tuple[int, int]], list[str]]:
        """The pieces of the segments that go through NER, as (segment index, offset of the
        piece in the segment) and the text NER reads (case-restored where shouted)."""
        jobs: list[tuple[int, int]] = []
        pieces: list[str] = []
        for i, seg in enumerate(todo):
            if self.cfg.skip_ner_without_candidates:
                runs = self.candidate_runs(seg)
            else:
                runs = [(0, len(seg))]
            if runs:
                self.stats["segments_ner"] += 1
            for s, e in runs:
                piece = seg[s:e]
                jobs.append((i, s))
                restored = None
                if self.cfg.restore_case:
                    restored = restore_case(piece) or restore_case_words(piece)
                pieces.append(restored or piece)
        return jobs, pieces

    def _analyze_doc(self, text: str, doc: Any) -> tuple[Detection, ...]:
        """Presidio's ``analyze`` on one segment, over the doc thresher's NER produced."""
        wanted = gate(self._segment_entities, text)
        if not doc.ents and not (set(wanted) - NER_ENTITIES) and not self._ner_patterns:
            return ()
        results = self.analyzer.analyze(
            text=text,
            language=self.cfg.language,
            entities=wanted,
            score_threshold=self.score_threshold,
            nlp_artifacts=self._artifacts(doc),
        )
        found = [Detection(r.start, r.end, r.entity_type, float(r.score)) for r in results]
        if "PERSON" in wanted:
            found.extend(  # only where nothing else was found: a weak, last-resort guess
                d
                for d in name_like_spans(doc.ents)
                if not any(o.start < d.end and d.start < o.end for o in found)
            )
            found = propagate_person_lists(text, found, self._stop)
        return tuple(resolve(text, found))

    def _artifacts(self, doc: Any) -> Any:
        """Presidio's ``NlpArtifacts`` for a doc thresher ran itself (``presidio_compat.
        artifacts``: keywords on first use); lemmas fall back to lower-cased tokens where the
        lemmatizer did not run (the fast path)."""
        entities, scores = ner_entities_and_scores(self.nlp_engine, doc)
        if self._disabled or not self.nlp.has_pipe("lemmatizer"):
            strings = self.nlp.vocab.strings
            lemmas = [strings[h] for h in doc.to_array("LOWER").tolist()]
        else:
            lemmas = [t.lemma_ or t.lower_ for t in doc]
        if len(self._keyword_memo) > _KEYWORD_MEMO_MAX:
            self._keyword_memo.clear()
        return artifacts(
            entities=entities,
            doc=doc,
            lemmas=lemmas,
            nlp_engine=self.nlp_engine,
            language=self.cfg.language,
            scores=scores,
            memo=self._keyword_memo,
        )


def _stop_words() -> set[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return {w.lower() for w in STOP_WORDS}


def _token_run(seg: str, doc: Any, offset: int, piece: str) -> tuple[int, int, str] | None:
    """(first token, end token, leading white space) of ``piece`` (at ``offset`` in ``seg``,
    whose tokenizer doc is ``doc``) when the piece is the segment's own text from white space
    or a word's start to a word's end, its tokens after the leading white space those of
    ``doc[first:end]``; else None."""
    end = offset + len(piece)
    if not piece or piece[-1].isspace() or seg[offset:end] != piece:
        return None  # ends in white space, or case-restored
    body = piece.lstrip()
    blank = piece[: len(piece) - len(body)]
    if not blank and offset and not seg[offset - 1].isspace():
        return None  # starts inside a word
    if end < len(seg) and not seg[end].isspace():
        return None  # ends inside a word
    span = doc.char_span(offset + len(blank), end)  # strict: on token boundaries only
    return None if span is None else (span.start, span.end, blank)


def _set_entity_spans(
    docs: list[tuple[str, Any]],
    jobs: list[tuple[int, int]],
    texts: list[Any],
    starts: list[int | None],
    found: list[list[tuple[int, int, str]]],
) -> None:
    """Set the entities the decoder found on pieces on their segments' docs: by token where
    the piece's tokens are its segment doc's (``starts``: where they start, counting its
    leading white-space token; an entity never starts on white space), by characters as
    ``_set_entities`` does where the piece had a doc of its own."""
    from spacy.tokens import Span
    from spacy.util import filter_spans

    ents: dict[int, list[Any]] = {}
    for (i, offset), text, start, spans in zip(jobs, texts, starts, found, strict=True):
        doc = docs[i][1]
        for s, e, label in spans:
            if start is not None:
                span = Span(doc, start + s, start + e, label=label)
            else:
                last = text[e - 1]
                span = doc.char_span(
                    offset + text[s].idx,
                    offset + last.idx + len(last),
                    label=label,
                    alignment_mode="expand",
                )
            if span is not None:
                ents.setdefault(i, []).append(span)
    for i, found_spans in ents.items():
        docs[i][1].set_ents(filter_spans(found_spans))


def _set_entities(docs: list[tuple[str, Any]], jobs: list[tuple[int, int]], ner_docs: Any) -> None:
    """Map the entities NER found on pieces back onto their segments' docs."""
    from spacy.util import filter_spans

    ents: dict[int, list[Any]] = {}
    for (i, offset), ner_doc in zip(jobs, ner_docs, strict=True):
        doc = docs[i][1]
        for ent in ner_doc.ents:
            span = doc.char_span(
                offset + ent.start_char,
                offset + ent.end_char,
                label=ent.label_,
                alignment_mode="expand",
            )
            if span is not None:
                ents.setdefault(i, []).append(span)
    for i, spans in ents.items():
        docs[i][1].set_ents(filter_spans(spans))
