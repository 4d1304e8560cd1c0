"""spaCy's greedy NER decoder, stepped for a whole batch at once in numpy.

spaCy 3.8's transition-based ``ner`` spends most of its time not in the network but in the
decoding loop: compiled with Cython 3, every transition of every document re-takes the GIL
to check for errors (on the long-document benchmark 7.5 s of NER's 11.9 s, against 4.3 s
for the token vectors). This module runs the same model and the same decisions: the token
vectors and the precomputed feature table come from the model's own layers; each step adds
the three feature rows of every unfinished document (the next token, the open entity's first
token, the token before the next), applies the maxout and the output layer, and takes the
best valid BILUO action exactly as ``BiluoPushDown`` would on a fresh doc (no preset entities
or sentence starts, which a ``make_doc`` doc never has). The entities are set with
``Doc.set_ents`` as spaCy's ``set_annotations`` does.

The matrix products go through numpy's BLAS on one thread, not thinc's ``blis``: on this
model's shapes (thousands of rows by 288) OpenBLAS was 1.6-1.8x faster on the project's
AVX-512 VM, and the whole NER 17% faster. The two differ only in rounding (token vectors
within 6e-6); the entities were identical on 11,340 texts (3.9 M characters), and a test
compares them with spaCy's own ``ner``.

The token vectors' first part, the embedding (four hashed lookups of a token's norm,
prefix, suffix and shape, then a maxout layer and a layer norm), reads each token on its own.
A batch of long documents holds a few thousand distinct tokens among its 16,000 (about 5% on
the long-document benchmark), so each distinct feature row is embedded once and the rows are
copied to their tokens; the convolutions over neighbours then run on every token as before.
Row by row the arithmetic is the same, and the token vectors are bitwise identical (a test
compares them). A tok2vec with any other layer before its ``ragged2list`` is run whole.

A batch's token vectors are computed in parts of at most ``_VECTOR_TOKENS`` tokens and
joined: each document's vectors depend on that document alone, so the parts are bitwise the
whole batch's, but a part's arrays stay in the caches (on the long-document benchmark the NER
took 3.1-3.4 s instead of 4.2-4.4 s). The decoder still steps the whole batch at once, one step
per token of its longest document.

A text may come as its tokens' feature rows (``TokenRows``: what ``extract_features`` would
read from its doc, and which tokens are white space) instead of a doc: NER reads nothing else
of it. The PII analyzer hands its NER pieces over this way where a piece's tokens are a run
of its segment doc's tokens, so a piece is not tokenized a second time (``analyzer``).
``spans`` gives each text's entities as token spans; calling the decoder sets them on docs.

``supports`` says whether a pipeline's ``ner`` is one this decoder reproduces (the
architecture and settings it was checked against); anything else goes through spaCy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

# BiluoPushDown's move codes (spacy/pipeline/_parser_internals/ner.pyx).
_BEGIN, _IN, _LAST, _UNIT, _OUT = 1, 2, 3, 4, 5
_MOVE_CODES = {"B": _BEGIN, "I": _IN, "L": _LAST, "U": _UNIT, "O": _OUT}
# Tokens per batch: the feature table holds 1.5 KB per token (3 x 64 x 2 floats).
_MAX_TOKENS = 16_384
# Tokens per run of the token vectors: a batch's vectors are computed in parts of about this
# many tokens, each part's arrays (2.4 MB of maxout output at 2,048) staying in the caches
# instead of streaming through memory; the decoder still steps the whole batch at once.
_VECTOR_TOKENS = 2_048


def supports(ner: Any) -> bool:
    """Whether ``ner`` is a greedy BILUO NER with the model this decoder reproduces: three
    state features, maxout pieces, a hidden-to-output layer, no post-processing hooks."""
    try:
        from spacy.pipeline._parser_internals.ner import BiluoPushDown

        model = ner.model
        lower = model.get_ref("lower")
        return (
            isinstance(ner.moves, BiluoPushDown)
            and ner.cfg.get("beam_width") == 1
            and not getattr(ner, "postprocesses", [])
            and model.name == "parser_model"
            and model.attrs.get("has_upper") is True
            and lower.get_dim("nF") == 3
            and lower.get_dim("nP") >= 2
        )
    except (AttributeError, KeyError, ValueError, ImportError):
        return False


class TokenRows:
    """A text given by its tokens instead of a doc: each token's row of the model's feature
    columns (``GreedyNer.columns``, as ``Doc.to_array`` gives them) and whether it is white
    space."""

    __slots__ = ("features", "space")

    def __init__(self, features: np.ndarray, space: np.ndarray) -> None:
        self.features = features
        self.space = space

    def __len__(self) -> int:
        return len(self.space)


class GreedyNer:
    """The decoder for one loaded ``ner`` component (build once per worker)."""

    def __init__(self, ner: Any):
        from thinc.api import NumpyOps
        from threadpoolctl import ThreadpoolController

        model = ner.model
        # Copies whose matrix products go through numpy's BLAS on one thread (see
        # ``_annotate``); spaCy's own ``ner`` keeps its model as it was.
        self._ops = NumpyOps(use_blis=False)
        self._tok2vec = _with_ops(model.get_ref("tok2vec").copy(), self._ops)
        self._split = _row_wise_embedding(self._tok2vec)
        self._lower = _with_ops(model.get_ref("lower").copy(), self._ops)
        self._blas = ThreadpoolController()
        upper = model.get_ref("upper")
        self._W = upper.get_param("W")
        self._b = upper.get_param("b")
        self._bias = self._lower.get_param("b")
        self._unseen = np.array(sorted(model.attrs.get("unseen_classes", ())), dtype=np.int64)
        moves = ner.moves
        names = [moves.get_class_name(i) for i in range(moves.n_moves)]
        codes = [_MOVE_CODES[name.split("-", 1)[0]] for name in names]
        labels = [name.split("-", 1)[1] if "-" in name else "" for name in names]
        self._label_names = sorted({lab for lab in labels if lab})
        index = {lab: i + 1 for i, lab in enumerate(self._label_names)}  # 0: no label
        self._move = np.array(codes, dtype=np.int8)
        self._label = np.array([index.get(lab, 0) for lab in labels], dtype=np.int32)
        self._penalty = _validity(self._move, self._label, len(self._label_names))

    @property
    def columns(self) -> list[Any] | None:
        """The token attributes the model reads (``extract_features``' columns): the rows of
        a ``TokenRows``. None where the tok2vec is not one this decoder splits (then it takes
        docs only)."""
        return None if self._split is None else list(self._split[0].attrs["columns"])

    def __call__(self, docs: Sequence[Any], batch_size: int = 256) -> Iterator[Any]:
        """Set the entities of ``docs`` (fresh tokenizer docs), yielding them in order."""
        from spacy.tokens import Span

        docs = list(docs)
        for doc, found in zip(docs, self.spans(docs, batch_size), strict=True):
            if len(doc):  # an empty doc has no token to tag
                ents = [Span(doc, s, e, label=label) for s, e, label in found]
                # spaCy sets these and marks every other token O ("unmodified", then O).
                doc.set_ents(ents, default="outside")
        yield from docs

    def spans(
        self, texts: Sequence[Any], batch_size: int = 256
    ) -> list[list[tuple[int, int, str]]]:
        """The entities of each text (a fresh tokenizer doc or ``TokenRows``) as (first
        token, end token, label), in order.

        Batches hold texts of similar length (as spaCy's own ``pipe`` sorts them), so the
        decoder's steps, one per token of a batch's longest text, are few."""
        texts = list(texts)
        found: list[list[tuple[int, int, str]]] = [[] for _ in texts]
        batch: list[int] = []
        tokens = 0
        for i in sorted(range(len(texts)), key=lambda i: len(texts[i])):
            if batch and (len(batch) >= batch_size or tokens + len(texts[i]) > _MAX_TOKENS):
                self._annotate(texts, batch, found)
                batch, tokens = [], 0
            batch.append(i)
            tokens += len(texts[i])
        if batch:
            self._annotate(texts, batch, found)
        return found

    def _annotate(
        self, texts: list[Any], batch: list[int], found: list[list[tuple[int, int, str]]]
    ) -> None:
        from spacy.attrs import IS_SPACE

        live = [i for i in batch if len(texts[i])]  # an empty text has no token to tag
        if not live:
            return
        items = [texts[i] for i in live]
        lengths = np.array([len(item) for item in items], dtype=np.int64)
        space = np.concatenate(
            [
                (item.space if isinstance(item, TokenRows) else item.to_array([IS_SPACE]))
                .reshape(-1)
                .astype(bool)
                for item in items
            ]
        ).view(np.int8)
        # One BLAS thread: its matrices are a few thousand rows, where a second thread
        # costs more than it brings, and local runs already keep a worker on every core.
        with self._blas.limit(limits=1, user_api="blas"):
            tokvecs = np.concatenate(
                [self.token_vectors(part) for part in _parts(items, _VECTOR_TOKENS)]
            )
            table = self._lower.predict(tokvecs)  # (tokens + 1, 3, nO, nP); row 0: padding
            spans = self._decode(table, lengths, space)
        for i, ents in zip(live, spans, strict=True):
            found[i] = [(s, e, self._label_names[lab - 1]) for s, e, lab in ents]

    def token_vectors(self, docs: list[Any]) -> Any:
        """The tok2vec's output for ``docs`` (non-empty docs, or ``TokenRows`` where the
        tok2vec is split), each distinct token embedded once."""
        if self._split is None:
            return self._tok2vec.predict(docs)
        extract, embedding, rest = self._split
        # per text: one row of attribute ids per token
        given = [doc.features if isinstance(doc, TokenRows) else None for doc in docs]
        extracted = iter(extract.predict([doc for doc in docs if not isinstance(doc, TokenRows)]))
        features = [rows if rows is not None else next(extracted) for rows in given]
        rows, where = np.unique(np.concatenate(features), axis=0, return_inverse=True)
        # list2ragged ... ragged2list on the distinct rows alone, as one document
        (embedded,) = _chain_predict(embedding, [rows])
        per_token = embedded[where.reshape(-1)]
        ends = np.cumsum([len(f) for f in features])[:-1]
        return _chain_predict(rest, list(np.split(per_token, ends)))

    def _decode(
        self, table: np.ndarray, lengths: np.ndarray, space: np.ndarray
    ) -> list[list[tuple[int, int, int]]]:
        n_docs = len(lengths)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        pos = np.zeros(n_docs, dtype=np.int64)
        open_label = np.zeros(n_docs, dtype=np.int32)  # 0: no entity open
        ent_start = np.zeros(n_docs, dtype=np.int64)
        found: list[list[tuple[int, int, int]]] = [[] for _ in range(n_docs)]
        move, label, penalty = self._move, self._label, self._penalty
        active = np.arange(n_docs)
        while active.size:
            b = pos[active]
            tok = offsets[active] + b
            lab = open_label[active]
            is_open = lab > 0
            # Feature rows: +1 skips the padding row, which an absent feature (-1) lands on.
            first = np.where(is_open, offsets[active] + ent_start[active] + 1, 0)
            before = np.where(is_open, tok, 0)
            summed = table[tok + 1, 0] + table[first, 1] + table[before, 2] + self._bias
            hidden = _max_pieces(summed)
            scores = self._ops.gemm(hidden, self._W, trans2=True)
            scores += self._b
            if self._unseen.size:
                scores[:, self._unseen] = scores.min()
            room = (lengths[active] - b >= 2).view(np.int8)
            scores += penalty[lab, room, space[tok]]
            guess = scores.argmax(axis=1)  # the first best valid action, as spaCy takes it
            act, act_label = move[guess], label[guess]
            for k in np.flatnonzero((act == _UNIT) | (act == _LAST)):
                d = active[k]
                start = b[k] if act[k] == _UNIT else ent_start[d]
                found[d].append((int(start), int(b[k]) + 1, int(act_label[k])))
            began = act == _BEGIN
            ent_start[active[began]] = b[began]
            open_label[active] = np.where(began, act_label, np.where(act == _LAST, 0, lab))
            pos[active] = b + 1
            active = active[pos[active] < lengths[active]]
        return found


def _max_pieces(x: np.ndarray) -> np.ndarray:
    """``x.max(axis=-1)``, the maxout over the last axis's few pieces, as element-wise maxima
    of its slices in the same order (``max`` is ``np.maximum.reduce``): the same values, NaN
    included. numpy reduces a last axis of two one short row at a time; on the decoder's
    (256, 64, 2) arrays that took 570 us a step against 13 us for this."""
    out = np.maximum(x[..., 0], x[..., 1])
    for p in range(2, x.shape[-1]):
        np.maximum(out, x[..., p], out=out)
    return out


def _parts(docs: list[Any], limit: int) -> Iterator[list[Any]]:
    """``docs`` in order, cut into runs of at most ``limit`` tokens (a longer doc alone)."""
    part: list[Any] = []
    tokens = 0
    for doc in docs:
        if part and tokens + len(doc) > limit:
            yield part
            part, tokens = [], 0
        part.append(doc)
        tokens += len(doc)
    if part:
        yield part


def _validity(move: np.ndarray, label: np.ndarray, n_labels: int) -> np.ndarray:
    """0 where an action is valid and -inf where not, indexed by (the open entity's label, 0
    for none; whether two or more tokens are left; whether the next token is white space;
    action): ``BiluoPushDown``'s rules on a doc with no preset entities or sentence starts."""
    is_b, is_i, is_l = move == _BEGIN, move == _IN, move == _LAST
    is_u, is_o = move == _UNIT, move == _OUT
    labelled = label > 0
    table = np.full((n_labels + 1, 2, 2, len(move)), -np.inf, dtype=np.float32)
    for lab in range(n_labels + 1):
        is_open, same = lab > 0, label == lab
        for room in (0, 1):
            for blank in (0, 1):
                valid = (
                    (is_o & (not is_open))
                    | (is_u & labelled & (not is_open) & (not blank))
                    | (is_b & labelled & (not is_open) & bool(room) & (not blank))
                    | (is_i & is_open & bool(room) & same)
                    | (is_l & is_open & same)
                )
                table[lab, room, blank, valid] = 0.0
    return table


# Layers that compute each token's row from that row alone (no window over neighbours).
_ROW_WISE = frozenset(
    {"list2ragged", "ragged2list", "ints-getitem", "hashembed", "maxout", "layernorm", "dropout"}
)


def _row_wise_embedding(tok2vec: Any) -> tuple[Any, list[Any], list[Any]] | None:
    """``(extract_features, the embedding's layers, the layers after it)`` when ``tok2vec``
    is spaCy's chain ``(extract_features >> list2ragged >> ... >> ragged2list) >> encoder``
    (then ``list2array >> linear``) whose embedding holds only row-wise layers; else None."""
    try:
        outer = list(tok2vec.layers)
        inner = list(outer[0].layers)
        embed, encoder = inner[0], inner[1:]
        layers = list(embed.layers)
    except (AttributeError, IndexError):
        return None
    if len(layers) < 3 or layers[0].name != "extract_features":
        return None
    if layers[1].name != "list2ragged" or layers[-1].name != "ragged2list":
        return None
    leaves = [node for layer in layers[1:] for node in layer.walk() if not node.layers]
    if not leaves or any(node.name not in _ROW_WISE for node in leaves):
        return None
    return layers[0], layers[1:], [*encoder, *outer[1:]]


def _chain_predict(layers: Sequence[Any], x: Any) -> Any:
    for layer in layers:
        x = layer.predict(x)
    return x


def _with_ops(model: Any, ops: Any) -> Any:
    """``model`` with every layer on ``ops``."""
    for node in model.walk():
        node.ops = ops
    return model
