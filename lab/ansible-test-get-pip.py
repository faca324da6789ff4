# Stand-in for the pip bootstrap script ansible-test downloads before it makes
# its sanity test venvs. Its host is not reachable from this kind of machine,
# so lab/lab.sh setup installs this file where ansible-test caches that script
# (~/.ansible/test/cache/get_pip_<version>.py) and puts the pip wheel of that
# version, fetched from PyPI, in wheels/ beside it. Like get-pip.py, it
# installs that pip into the running interpreter, then the packages it was
# asked for.
import ensurepip
import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = os.path.basename(__file__)[len('get_pip_'):-len('.py')].replace('_', '.')

wheels = glob.glob(os.path.join(HERE, 'wheels', 'pip-%s-*.whl' % VERSION))
if not wheels:
    sys.exit('%s: no pip %s wheel in %s/wheels: run lab/lab.sh setup' % (__file__, VERSION, HERE))
ensurepip.bootstrap()
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check', '-q',
                       '--no-index', wheels[0]])
# get-pip.py options that pip itself does not know.
args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel') and not arg.startswith('pip==')]
if [arg for arg in args if not arg.startswith('-')]:
    sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + args))
