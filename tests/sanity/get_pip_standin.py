"""Stand-in for the get-pip script ansible-test downloads from a host CI cannot reach.

ansible-test runs it as ``python get_pip_<version>.py [pip options] pip==<version> ...`` inside a
new virtual environment. Bootstrap pip from the interpreter's bundled wheel (ensurepip), then let
that pip install what was asked, with the caller's environment (ensurepip points pip's config at
/dev/null, which would drop this machine's certificate and index settings).
"""

import os
import subprocess
import sys

env = dict(os.environ)
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], stdout=subprocess.DEVNULL)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *args], env=env)
