#!/usr/bin/env bash
# Open the gallery in JupyterLab: the notebooks (jupytext percent files, gallery/*.py) open as
# notebooks by default. Installs the optional "lab" extra into .venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/jupyter-lab ] || ! .venv/bin/python -c "import jupytext" 2>/dev/null; then
  echo "lab: installing JupyterLab, jupytext and ipywidgets into .venv (the 'lab' extra)"
  .venv/bin/python -m pip install --quiet -e ".[lab]"
fi
# JupyterLab reads overrides.json from its settings folder in the environment: make the
# jupytext notebook view the default for .py files (right-click > Open With > Editor for the text).
settings=.venv/share/jupyter/lab/settings
mkdir -p "$settings"
cat > "$settings/overrides.json" <<'JSON'
{
  "@jupyterlab/docmanager-extension:plugin": {
    "defaultViewers": {"python": "Jupytext Notebook"}
  }
}
JSON
root=()
if [ "$(id -u)" = 0 ]; then root=(--allow-root); fi  # containers often run as root; JupyterLab refuses it otherwise
exec .venv/bin/jupyter lab --notebook-dir=gallery "${root[@]}" "$@"
