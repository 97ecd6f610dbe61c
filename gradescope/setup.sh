#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu).
# The autograder zip holds this file, run_autograder, a wheel of derive
# (`pip wheel --no-deps -w . /path/to/derive` makes derive-*.whl) and, optionally,
# rubric.toml; Gradescope unpacks it into /autograder/source.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# bubblewrap: each notebook runs in a jail (derive grade --jail auto uses it where it works)
apt-get install -y -qq python3 python3-venv bubblewrap >/dev/null
python3 -m venv /opt/derive
wheel=$(ls /autograder/source/derive-*.whl)
/opt/derive/bin/pip install -q "${wheel}[grade]"
ln -sf /opt/derive/bin/derive /usr/local/bin/derive
