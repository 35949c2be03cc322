"""Two gloo processes fetch checkpoint URLs: every rank gets the same
outcome, and none waits on a rank whose download failed (MMEngine's
``load_from_http`` leaves the others at a barrier)."""
import json
import os.path as osp
import socket

import pytest
import torch
import torch.multiprocessing as mp

from untrusted_checkpoints import serve_folder

pytestmark = [pytest.mark.dist, pytest.mark.slow]


def fetch_on_rank(rank, world_size, init_file, urls, model_dir, out_dir):
    import torch.distributed as dist

    import mmtricks  # noqa: F401
    from mmtricks.compat.checkpoint_loading import (fetch_checkpoint,
                                                    load_checkpoint_file)
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=world_size)
    results = []
    for url in urls:
        try:
            path = fetch_checkpoint(url, model_dir)
            load_checkpoint_file(path)
            results.append(dict(outcome='ok', path=path))
        except Exception as error:  # recorded for the parent to compare
            results.append(dict(outcome=type(error).__name__,
                                message=str(error)))
    dist.destroy_process_group()
    with open(osp.join(out_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(results, f)


def closed_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_every_rank_gets_the_same_outcome(tmp_path):
    www = tmp_path / 'www'
    www.mkdir()
    torch.save({'state_dict': {'w': torch.ones(2)}}, www / 'good.pth')
    cache = tmp_path / 'cache'
    with serve_folder(www) as base:
        cases = [(f'{base}/missing.pth', 'CheckpointDownloadError'),
                 (f'http://127.0.0.1:{closed_port()}/good.pth',
                  'CheckpointUnreachableError'),
                 (f'{base}/good.pth', 'ok')]
        mp.spawn(fetch_on_rank, nprocs=2, join=True,
                 args=(2, str(tmp_path / 'init'), [u for u, _ in cases],
                       str(cache), str(tmp_path)))
    ranks = [json.loads((tmp_path / f'rank{r}.json').read_text())
             for r in range(2)]
    for i, (url, expected) in enumerate(cases):
        rank0, rank1 = ranks[0][i], ranks[1][i]
        assert rank0['outcome'] == rank1['outcome'] == expected, url
        if expected == 'ok':
            assert rank0['path'] == rank1['path'] == str(cache / 'good.pth')
        else:
            assert url in rank0['message'] and url in rank1['message']
            assert rank1['message'].startswith('On rank 0:')
    assert sorted(p.name for p in cache.iterdir()) == ['good.pth']
