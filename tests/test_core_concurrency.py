"""Many threads calling one shared model at once get exactly the answers of serial calls."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from conftest import VARIED_TEXTS


def test_threads_share_one_embedder_and_reranker(embedder, reranker):
    texts = [VARIED_TEXTS[i:] + VARIED_TEXTS[:i] for i in range(8)]
    serial_vectors = [embedder.embed_documents(t) for t in texts]
    serial_scores = [reranker.score(t[0], t[1:]) for t in texts]

    def work(i):
        return embedder.embed_documents(texts[i]), reranker.score(texts[i][0], texts[i][1:])

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))
    for i, (vectors, scores) in enumerate(results):
        np.testing.assert_array_equal(vectors, serial_vectors[i])
        np.testing.assert_array_equal(scores, serial_scores[i])
