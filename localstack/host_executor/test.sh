#!/usr/bin/env bash
# The host executor's tests: installs LocalStack with the executor (and
# pytest) into .venv-localstack if needed, then runs them against a LocalStack
# of their own on TEL_LOCALSTACK_PORT (4610, beside a default one on 4566),
# which they start and stop. Arguments go to pytest. Exit status is pytest's.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export TEL_ENGINE=localstack TEL_LOCALSTACK_PORT="${TEL_LOCALSTACK_PORT:-4610}"

# A LocalStack left on this port may run an older executor: it goes first.
"$root/localstack/emulator.sh" stop
"$root/localstack/emulator.sh" install
venv="${TEL_LOCALSTACK_VENV:-$root/.venv-localstack}"
# -p no:cacheprovider: no .pytest_cache in the checkout.
exec "$venv/bin/python" -m pytest -p no:cacheprovider -q "$here/tests" "$@"
