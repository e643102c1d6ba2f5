"""Property-based checks over arbitrary Unicode, empty strings and control characters included."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TEXT = st.text(st.characters(codec="utf-8"), max_size=40)  # any code point, control characters too
TEXTS = st.lists(TEXT, min_size=1, max_size=6)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(texts=TEXTS, data=st.data())
def test_embeddings_are_finite_unit_vectors_and_follow_permutations(embedder, texts, data):
    vectors = embedder.embed_documents(texts)
    assert vectors.shape == (len(texts), embedder.dim) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    order = data.draw(st.permutations(range(len(texts))))
    np.testing.assert_allclose(embedder.embed_documents([texts[i] for i in order]), vectors[order], atol=1e-5)


@SETTINGS
@given(query=TEXT, documents=TEXTS, data=st.data())
def test_scores_are_probabilities_and_follow_permutations(reranker, query, documents, data):
    scores = reranker.score(query, documents)
    assert scores.shape == (len(documents),) and ((scores >= 0) & (scores <= 1)).all()
    order = data.draw(st.permutations(range(len(documents))))
    np.testing.assert_allclose(reranker.score(query, [documents[i] for i in order]), scores[order], atol=1e-5)
