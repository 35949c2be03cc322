"""Names a recipe config uses, written once for the engine's deciders."""

#: A setting left to mmtricks to decide (``image_size``, ``batch_size``,
#: ``monitor``, ``num_workers``, ``compile``...).
AUTO = 'auto'
#: The loaders of the three splits, in the order train, val, test.
SPLIT_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')



def config_hook(cfg, hook_type: str):
    """The config's first ``custom_hooks`` entry of ``hook_type`` (a dict),
    or None."""
    return next((hook for hook in cfg.get('custom_hooks') or []
                 if isinstance(hook, dict) and hook.get('type') == hook_type),
                None)


__all__ = ['AUTO', 'SPLIT_LOADERS', 'config_hook']
