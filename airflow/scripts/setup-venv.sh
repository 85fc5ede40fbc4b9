#!/usr/bin/env bash
# Creates (or refreshes) the Python 3.11 virtual environment used by the instapro
# Airflow DAGs and their tests, at airflow/.venv by default.
#
# Idempotent: the venv is rebuilt only when it is missing or when requirements.txt,
# requirements-test.txt, constraints.txt or the interpreter version changed since it
# was built (tracked by a stamp file holding a hash of all of them).
#
# Environment:
#   INSTAPRO_AIRFLOW_PYTHON  interpreter to build the venv with (default: python3.11)
#   INSTAPRO_AIRFLOW_VENV    where to put the venv (default: <airflow dir>/.venv)
set -euo pipefail

airflow_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv_dir="${INSTAPRO_AIRFLOW_VENV:-$airflow_dir/.venv}"
python_bin="${INSTAPRO_AIRFLOW_PYTHON:-python3.11}"
stamp_file="$venv_dir/.instapro-requirements.sha256"

if ! command -v "$python_bin" >/dev/null 2>&1; then
    echo "setup-venv: '$python_bin' not found; install Python 3.11 or set INSTAPRO_AIRFLOW_PYTHON" >&2
    exit 1
fi

python_version="$("$python_bin" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
case "$python_version" in
    3.11.*) ;;
    *)
        echo "setup-venv: '$python_bin' is Python $python_version; Python 3.11 is required" \
            "(constraints.txt is frozen for it)" >&2
        exit 1
        ;;
esac

# The stamp covers everything that decides the venv's content.
wanted_stamp="$(
    {
        echo "python $python_version"
        cat "$airflow_dir/requirements.txt" "$airflow_dir/requirements-test.txt" "$airflow_dir/constraints.txt"
    } | sha256sum | cut -d' ' -f1
)"

if [[ -x "$venv_dir/bin/python" && -f "$stamp_file" && "$(cat "$stamp_file")" == "$wanted_stamp" ]]; then
    echo "setup-venv: $venv_dir is up to date"
    exit 0
fi

echo "setup-venv: building $venv_dir with Python $python_version"
started_at=$SECONDS
rm -rf "$venv_dir"

# Debian splits ensurepip into the python3.11-venv package; without it, build the venv
# without pip and let the interpreter's own pip install into it.
if ! "$python_bin" -m venv "$venv_dir" 2>/dev/null; then
    echo "setup-venv: 'venv' with pip failed (python3.11-venv missing?); bootstrapping pip from the system pip"
    rm -rf "$venv_dir"
    "$python_bin" -m venv --without-pip "$venv_dir"
    "$python_bin" -m pip --python "$venv_dir/bin/python" install --quiet --no-input pip
fi

"$venv_dir/bin/python" -m pip install --quiet --no-input --disable-pip-version-check \
    -r "$airflow_dir/requirements.txt" \
    -r "$airflow_dir/requirements-test.txt" \
    -c "$airflow_dir/constraints.txt"

# Written last, so an interrupted install is rebuilt on the next run.
echo "$wanted_stamp" > "$stamp_file"
echo "setup-venv: done in $((SECONDS - started_at))s"
