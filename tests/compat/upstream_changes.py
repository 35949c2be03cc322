"""What importing a module changes in other libraries, found by diffing them.

Run in a fresh process (tests/compat/test_process_wide.py does):

    python upstream_changes.py modules mmtricks.deploy
        prints (JSON) the modules other than mmtricks' that importing it
        loads (all of them: scipy, say, adds warning filters of its own);
    python upstream_changes.py diff MODULES.json mmtricks mmtricks.deploy
        imports those modules first, records upstream, then imports
        each target in turn and prints (JSON) what differs from the record
        after each: module attributes, class attributes (and the entries of
        class-level dicts) that were replaced or added, ``warnings.filters``
        when filters were added, and the loggers that gained filters.

Nothing here knows what mmtricks patches: the names come from the diff.
"""
import json
import logging
import sys
import warnings

UPSTREAM = ('torch', 'mmengine', 'mmcv', 'mmpretrain', 'mmdeploy')


def is_upstream(name):
    return name.split('.')[0] in UPSTREAM


def attributes():
    """``{dotted name: id(value)}`` for every attribute of the loaded
    upstream modules, of the classes they define, and of those classes'
    dict attributes."""
    seen = {}
    with warnings.catch_warnings():  # deprecated aliases warn on access
        warnings.simplefilter('ignore')
        for name, module in list(sys.modules.items()):
            if module is None or not is_upstream(name):
                continue
            for key, value in list(vars(module).items()):
                seen[f'{name}.{key}'] = id(value)
                if isinstance(value, type) and value.__module__ == name:
                    for attr, member in list(vars(value).items()):
                        seen[f'{name}.{key}.{attr}'] = id(member)
                        if isinstance(member, dict):
                            for k, v in list(member.items()):
                                seen[f'{name}.{key}.{attr}[{k!r}]'] = id(v)
    return seen


def logger_filters():
    """``{logger: ids of its filters}`` for logging's loggers and MMLogger's
    instances (which are not in logging's tree)."""
    from mmengine.logging import MMLogger
    loggers = {f'logging.getLogger({name!r})': logger for name, logger in
               logging.Logger.manager.loggerDict.items()
               if isinstance(logger, logging.Logger)}
    loggers['logging.getLogger()'] = logging.getLogger()
    loggers.update({f'MMLogger.get_instance({name!r})': logger
                    for name, logger in MMLogger._instance_dict.items()})
    return {name: [id(f) for f in logger.filters]
            for name, logger in loggers.items()}


def changed(before, after):
    """Names whose value is new or replaced, whose owner existed before
    (an attribute of a module or class the import itself loaded is not a
    change to upstream)."""
    def owner(name):
        return name.rsplit('[', 1)[0] if name.endswith(']') else \
            name.rsplit('.', 1)[0]
    return {name for name, value in after.items()
            if before.get(name, value) != value or
            (name not in before and owner(name) in before)}


def diff(modules, targets):
    """``{target: changes}``, each from before the first target."""
    for name in modules:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 (a module that cannot load alone)
            pass
    before = attributes()
    filters_before = list(warnings.filters)
    loggers_before = logger_filters()
    changes = {}
    for target in targets:
        __import__(target)
        found = changed(before, attributes())
        if [f for f in warnings.filters if f not in filters_before]:
            found.add('warnings.filters')
        for name, filters in logger_filters().items():
            if set(filters) - set(loggers_before.get(name, [])):
                found.add(f'{name}.filters')
        changes[target] = sorted(found)
    return changes


if __name__ == '__main__':
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == 'modules':
        __import__(arguments[0])
        print(json.dumps(sorted(
            n for n, m in sys.modules.items() if m is not None and
            n.split('.')[0] not in ('mmtricks', '__main__'))))
    else:
        with open(arguments[0]) as f:
            print(json.dumps(diff(json.load(f), arguments[1:])))
