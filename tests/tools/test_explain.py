"""tools/explain.py on a tiny trained model."""
import json
import os.path as osp
import sys

import pytest

from conftest import REPO, fast_config, train

sys.path.insert(0, osp.join(REPO, 'tools'))


@pytest.mark.slow
def test_writes_an_overlay_per_image_and_an_index(tmp_path):
    import explain  # tools/explain.py
    cfg = fast_config(work_dir=tmp_path / 'work', max_epochs=1,
                      image_size=64)
    cfg.image_size = 64
    train(cfg)
    config = str(tmp_path / 'work' / 'trained_config.py')
    cfg.dump(config)
    out = tmp_path / 'explain'
    assert explain.main([config, str(tmp_path / 'work' / 'epoch_1.pth'),
                         '--split', 'val', '--out', str(out),
                         '--limit', '5']) == 0
    with open(out / 'saliency_index.json') as f:
        entries = json.load(f)
    assert len(entries) == 5
    for entry in entries:
        assert (out / entry['overlay']).is_file()
        assert entry['label'] in [str(i) for i in range(10)]
        assert all(0 <= v < 64 for v in entry['peak_yx'])
        assert 0 < entry['score'] <= 1
    missing = explain.main([config, str(tmp_path / 'nothing.pth'),
                            '--out', str(out)])
    assert missing == 2
