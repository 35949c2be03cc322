from benchmarks.run_cache import RunCache, run_key


def test_a_stored_run_is_not_trained_again(tmp_path):
    path = str(tmp_path / 'runs.jsonl')
    calls = []

    def train():
        calls.append(1)
        return dict(top1=97.5)

    key = run_key(dataset='digits', lr=0.1, epochs=10, seed=0)
    assert RunCache(path).get_or_run(key, train) == dict(top1=97.5)
    again = RunCache(path)  # a new process reading the same file
    assert key in again
    assert again.get_or_run(key, train) == dict(top1=97.5)
    assert len(calls) == 1
    other = run_key(dataset='digits', lr=0.3, epochs=10, seed=0)
    again.get_or_run(other, train)
    assert len(calls) == 2


def test_key_ignores_field_order_but_not_values():
    assert run_key(a=1, b=2) == run_key(b=2, a=1)
    assert run_key(a=1, b=2) != run_key(a=1, b=3)
