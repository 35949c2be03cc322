from benchmarks.pretrained import lite0_config, markdown, summarise


def test_runs_differ_only_in_backbone_init(tmp_path):
    pre = lite0_config('lfw_faces', 7, 0, str(tmp_path / 'a'), True)
    scratch = lite0_config('lfw_faces', 7, 0, str(tmp_path / 'b'), False)
    assert pre.model.backbone.init_cfg == dict(type='PackagedEfficientNetLite')
    assert scratch.model.backbone.init_cfg is None
    assert pre.model.head.num_classes == scratch.model.head.num_classes == 2
    for cfg in (pre, scratch):
        assert cfg.train_cfg.max_epochs == 7
        assert {h['type'] for h in cfg.custom_hooks} >= {'LRFinderHook',
                                                         'AutoEpochsHook'}
    pre.model.backbone.init_cfg = None
    assert pre.model == scratch.model
    assert pre.optim_wrapper == scratch.optim_wrapper


def test_summary_and_table():
    runs = dict(pretrained=dict(top1=98.5, seconds=60.0, epochs=5, lr=0.02),
                scratch=dict(top1=90.0, seconds=120.0, epochs=12, lr=0.2))
    summary = summarise('digits', runs)
    assert summary['top1_gain'] == 8.5
    assert summary['time_ratio'] == 0.5
    table = markdown([summary], cap=20, image_size=64, command='python x')
    assert '| digits | 98.50 / 5 / 60 s / 0.02 | 90.00 / 12 / 120 s / 0.2 ' \
        '| +8.50 |' in table
    assert 'cap of 20 epochs' in table and '64 px' in table
