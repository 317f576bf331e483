#!/usr/bin/env python3
"""Extracts the AWS service models Otter serves from botocore into packages/server/src/aws/models.

The models are the wire contract (paths, members, patterns, limits, error shapes). Documentation
strings are dropped; everything else is kept as botocore ships it. Usage:
  python3 scripts/gen-aws-models.py          # write the files
  python3 scripts/gen-aws-models.py --check  # exit 1 when the committed files differ
"""
import gzip, json, os, sys

SERVICES = {
    'iot': '2015-05-28',
    'iot-data': '2015-05-28',
    'iot-jobs-data': '2017-09-29',
    'greengrass': '2017-06-07',
}
DROP = {'documentation', 'deprecatedMessage', 'examples', 'documentationUrl'}
OUT = os.path.join(os.path.dirname(__file__), '..', 'packages', 'server', 'src', 'aws', 'models')


def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in sorted(o.items()) if k not in DROP}
    if isinstance(o, list):
        return [strip(x) for x in o]
    return o


def main():
    try:
        import botocore
    except ImportError:
        print('gen-aws-models: botocore is not installed; skipped')
        return 0
    check = '--check' in sys.argv
    data = os.path.join(os.path.dirname(botocore.__file__), 'data')
    differ = []
    for name, version in SERVICES.items():
        base = os.path.join(data, name, version, 'service-2.json')
        opener = gzip.open if os.path.exists(base + '.gz') else open
        model = json.load(opener(base + ('.gz' if opener is gzip.open else ''), 'rt'))
        if 'CreatePackage' not in model['operations'] and name == 'iot':
            print(f'gen-aws-models: botocore {botocore.__version__} predates the package catalog; skipped')
            return 0
        model = strip(model)
        model['metadata']['botocoreVersion'] = botocore.__version__
        text = json.dumps(model, separators=(',', ':'), sort_keys=True) + '\n'
        path = os.path.join(OUT, name + '.json')
        if check:
            old = open(path).read() if os.path.exists(path) else ''
            # Compare the contract, not the botocore version that wrote it.
            strip_ver = lambda t: json.dumps({**json.loads(t), 'metadata': {**json.loads(t)['metadata'], 'botocoreVersion': None}}, sort_keys=True) if t else ''
            if strip_ver(old) != strip_ver(text):
                differ.append(name)
        else:
            with open(path, 'w') as f:
                f.write(text)
    if differ:
        print('gen-aws-models: committed models differ from botocore ' + botocore.__version__ + ': ' + ', '.join(differ))
        print('(a newer botocore may have changed the APIs; regenerate with python3 scripts/gen-aws-models.py and review)')
        return 1
    print('gen-aws-models: ' + ('models up to date' if check else 'models written') + ' (botocore ' + botocore.__version__ + ')')
    return 0


sys.exit(main())
