"""Attributions in the network's input space, mapped back to the user's input.

- vector modalities: per column of the estimator's input, and summed per raw
  column of the Pipeline's input where the fitted transformers' feature
  names trace an output column back to one input column;
- token modalities: per word of the note (the TextTokenizer's words);
- dense text embeddings: per sentence, by occlusion through the Pipeline.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.base import OneToOneFeatureMixin
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from .._names import join_prefix

__all__ = ["describe_modalities", "raw_sources", "sentence_occlusion"]

#: Text of a sentence: up to its closing punctuation (or the end of the note).
_SENTENCE = re.compile(r"[^.!?;\n]+(?:[.!?;]+|$)", re.MULTILINE)
_UNKNOWN = "<unk>"


# -- tracing output columns back to raw columns -------------------------------
def _one_step(step, inputs):
    """``[(name_out, raw or None)]`` of a fitted transformer's outputs."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return list(inputs)
    if isinstance(step, Pipeline):
        for _, sub in step.steps:
            inputs = _one_step(sub, inputs)
        return inputs
    if isinstance(step, ColumnTransformer):
        return _column_transformer(step, inputs)
    names_in = [name for name, _ in inputs]
    try:
        names_out = [str(n) for n in step.get_feature_names_out(names_in)]
    except (AttributeError, ValueError, TypeError):
        return None
    if len(inputs) == 1:
        return [(n, inputs[0][1]) for n in names_out]
    if isinstance(step, OneToOneFeatureMixin) or names_out == names_in:
        return [(n, raw) for n, (_, raw) in zip(names_out, inputs, strict=True)]
    raw_of = dict(inputs)
    return [(n, raw_of.get(_input_of(n, names_in))) for n in names_out]


def _input_of(name_out, names_in):
    """The input column an output name derives from (``<col>_<category>``
    of a OneHotEncoder, ``missingindicator_<col>`` of an imputer), or None."""
    if name_out in names_in:
        return name_out
    stripped = name_out.removeprefix("missingindicator_")
    if stripped in names_in:
        return stripped
    found = [n for n in names_in if name_out.startswith(f"{n}_")]
    return max(found, key=len) if found else None


def _selected(ct, columns, inputs):
    """Positions in ``inputs`` of a ColumnTransformer step's ``columns``."""
    names = [name for name, _ in inputs]
    if isinstance(columns, str):
        columns = [columns]
    elif isinstance(columns, slice) or callable(columns):
        return None
    columns = list(np.asarray(columns).ravel())
    if columns and isinstance(columns[0], np.bool_ | bool):
        return [i for i, keep in enumerate(columns) if keep]
    try:
        return [
            c if isinstance(c, int | np.integer) else names.index(c) for c in columns
        ]
    except ValueError:
        return None


def _column_transformer(ct, inputs):
    pairs = []
    for step_name, step, columns in ct.transformers_:
        if isinstance(step, str) and step == "drop":
            continue
        positions = _selected(ct, columns, inputs)
        if positions is None:
            return None
        if not positions:
            continue
        sub = _one_step(step, [inputs[p] for p in positions])
        if sub is None:
            return None
        pairs += [(join_prefix(step_name, n), raw) for n, raw in sub]
    try:
        names_out = [str(n) for n in ct.get_feature_names_out()]
    except (AttributeError, ValueError):
        return None
    if len(names_out) != len(pairs):
        return None
    return [(n, raw) for n, (_, raw) in zip(names_out, pairs, strict=True)]


def raw_sources(preprocessing, X):
    """``{estimator input column: raw column or None}`` through the fitted
    steps ``preprocessing`` (a Pipeline without its last step), or None."""
    names = getattr(preprocessing, "feature_names_in_", None)
    if names is None and isinstance(X, pd.DataFrame):
        names = X.columns
    if names is None:
        return None
    names = [str(n) for n in names]
    traced = _one_step(preprocessing, [(n, n) for n in names])
    return None if traced is None else dict(traced)


# -- finding a modality's transformer -----------------------------------------
def _last(step):
    return step.steps[-1][1] if isinstance(step, Pipeline) else step


def modality_step(estimator, modality):
    """``(transformer, columns)`` of the ColumnTransformer step named
    ``modality`` in the Pipeline ``estimator`` (its last step if it is a
    Pipeline), or None when there is none."""
    if not isinstance(estimator, Pipeline):
        return None
    for _, step in estimator.steps[:-1]:
        if isinstance(step, ColumnTransformer):
            for name, transformer, columns in step.transformers_:
                if name == modality:
                    return _last(transformer), columns
    return None


def _texts(X, columns):
    """One document per row of the raw ``X[columns]`` and a missing mask."""
    from ..preprocessing._text import _documents

    cols = [columns] if isinstance(columns, str) else list(columns)
    values = X[cols].to_numpy(dtype=object)
    return _documents(values)


# -- words of a note ----------------------------------------------------------
def _note_words(tokenizer, doc):
    from ..preprocessing._tokens import _WORD

    text = doc.lower() if tokenizer.lowercase else doc
    same = len(text) == len(doc)
    return [
        doc[m.start() : m.end()] if same else m.group() for m in _WORD.finditer(text)
    ]


def _words_from_text(tokenizer, X, columns, per_position):
    docs, missing = _texts(X, columns)
    rows = []
    for i, doc in enumerate(docs):
        words = [] if missing[i] else _note_words(tokenizer, doc)
        scores = per_position[i]
        rows.append(
            [
                (word, float(scores[j]) if j < len(scores) else 0.0)
                for j, word in enumerate(words)
            ]
        )
    return rows


def _words_from_ids(ids, per_position, vocabulary):
    inverse = {}
    if vocabulary is not None:
        vocabulary = getattr(vocabulary, "vocabulary_", vocabulary)
        inverse = {int(i): w for w, i in vocabulary.items()}
    rows = []
    for row_ids, scores in zip(
        np.asarray(ids, dtype=np.int64), per_position, strict=True
    ):
        rows.append(
            [
                (
                    inverse.get(int(i), _UNKNOWN if i == 1 or inverse else f"<id {i}>"),
                    float(s),
                )
                for i, s in zip(row_ids, scores, strict=True)
                if i > 0
            ]
        )
    return rows


# -- everything per modality --------------------------------------------------
def _column_names(final, spec):
    names = getattr(final, "feature_names_in_", None)
    if spec.columns is not None and names is not None:
        return [str(names[c]) for c in spec.columns]
    return [join_prefix(spec.name, str(j)) for j in range(int(np.prod(spec.shape)))]


def _raw_frame(frame, sources, index):
    if sources is None:
        return None
    groups = {}
    for column in frame.columns:
        raw = sources.get(column)
        if raw is not None:
            groups.setdefault(raw, []).append(column)
    if not groups:
        return None
    return pd.DataFrame(
        {raw: frame[cols].sum(axis=1).to_numpy() for raw, cols in groups.items()},
        index=index,
    )


def describe_modalities(estimator, final, X, Xt, inputs, per_input, vocabularies):
    """``columns``, ``raw_columns`` and ``words`` of the result."""
    index = X.index if isinstance(X, pd.DataFrame) else None
    sources = None
    if isinstance(estimator, Pipeline) and len(estimator) > 1:
        sources = raw_sources(estimator[:-1], X)
    columns, raw_columns, words = {}, {}, {}
    for name, spec in final.modalities_.items():
        if spec.kind == "vector":
            frame = pd.DataFrame(
                per_input[name], columns=_column_names(final, spec), index=index
            )
            columns[name] = frame
            raw = _raw_frame(frame, sources, index)
            if raw is not None:
                raw_columns[name] = raw
        elif spec.kind == "tokens":
            found = modality_step(estimator, name)
            if found is not None and isinstance(X, pd.DataFrame):
                words[name] = _words_from_text(found[0], X, found[1], per_input[name])
            else:
                vocab = (vocabularies or {}).get(name)
                words[name] = _words_from_ids(inputs[name], per_input[name], vocab)
    return {"columns": columns, "raw_columns": raw_columns, "words": words}


# -- sentences of a note, by occlusion ----------------------------------------
def _is_dense_text(transformer):
    from ..preprocessing import TextEmbedder

    try:
        from ..preprocessing import SentenceEmbedder
    except ImportError:  # pragma: no cover
        SentenceEmbedder = TextEmbedder
    return isinstance(transformer, TextEmbedder | SentenceEmbedder)


def split_sentences(doc):
    """The sentences of a note, in order (stripped; empty ones left out)."""
    return [s.strip() for s in _SENTENCE.findall(doc) if s.strip()]


def sentence_occlusion(estimator, final, X, f):
    """``{modality: per row [(sentence, f(x) - f(x without it))]}`` for the
    dense text modalities of a Pipeline given the raw DataFrame X."""
    if not isinstance(estimator, Pipeline) or not isinstance(X, pd.DataFrame):
        return {}
    out = {}
    for name, spec in final.modalities_.items():
        found = modality_step(estimator, name)
        if spec.kind != "vector" or found is None or not _is_dense_text(found[0]):
            continue
        column = found[1] if isinstance(found[1], str) else next(iter(found[1]))
        out[name] = _occlude_sentences(estimator, X, column, f)
    return out


def _occlude_sentences(estimator, X, column, f):
    docs, missing = _texts(X, [column])
    sentences = [
        [] if m else split_sentences(d) for d, m in zip(docs, missing, strict=True)
    ]
    rows, notes = [], []
    for i, parts in enumerate(sentences):
        for k in range(len(parts)):
            rows.append(i)
            notes.append(" ".join(parts[:k] + parts[k + 1 :]))
    full = f(estimator[:-1].transform(X), np.arange(len(X)))
    if not rows:
        return [[] for _ in range(len(X))]
    changed = X.iloc[rows].copy()
    changed[column] = np.asarray(notes, dtype=object)
    without = f(estimator[:-1].transform(changed), np.asarray(rows))
    result, position = [], 0
    for i, parts in enumerate(sentences):
        drops = full[i] - without[position : position + len(parts)]
        result.append([(s, float(d)) for s, d in zip(parts, drops, strict=True)])
        position += len(parts)
    return result
