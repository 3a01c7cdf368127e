#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as ansible_collections/hansenexus/platform
# (ansible-test requires that path). No ignore files: every finding fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
DEST="$WORK/ansible_collections/hansenexus/platform"
mkdir -p "$DEST"
rsync -a --exclude .git --exclude collections --exclude .venv --exclude .ansible \
  --exclude tests/output --exclude '__pycache__' --exclude '.pytest_cache' "$ROOT/" "$DEST/"
# ansible-test bootstraps pip in its venvs with a get-pip script from a host outside the package
# registries. Provide that script: ensurepip, then the requested pip from PyPI.
TEST_SRC=$(python -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py
PIP_VERSION=$(sed -n "s/^ *pip='\([0-9.]*\)',.*/\1/p" "$TEST_SRC" | head -1)
GET_PIP="$HOME/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py"
if [ -n "$PIP_VERSION" ] && [ ! -f "$GET_PIP" ]; then
  mkdir -p "$(dirname "$GET_PIP")"
  cat > "$GET_PIP" <<'PY'
"""Offline stand-in for ansible-test's get-pip bootstrap: ensurepip, then pip from PyPI."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
fi

cd "$DEST"
git init -q . && git add -A >/dev/null 2>&1 && git -c user.email=ci@localhost -c user.name=ci commit -qm sanity
PY=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ansible-test sanity --python "$PY" --color no --requirements
