"""`stsd token rotate`: a new default token; the old one stops working at once.

With the daemon up, the daemon writes the file and switches in one step; with it down,
the file is replaced here and the daemon reads it when it starts.
"""

import argparse
from collections.abc import Mapping

from stsd.client.control import Control, ControlError, DaemonUnreachable
from stsd.client.liveness import daemon_listening
from stsd.client.output import fail
from stsd.client.paths import Paths, UnsafeRuntimeDir, ensure_private_dir
from stsd.client.tokens import new_token, write_token

__all__ = ["run"]


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    del args
    paths = Paths.from_env(env)
    try:
        ensure_private_dir(paths.runtime_dir)
    except UnsafeRuntimeDir as error:
        return fail(f"unsafe runtime directory: {error}")
    if daemon_listening(paths.control_socket):
        try:
            Control(paths.control_socket).post("/v1/token/rotate", {})
        except (DaemonUnreachable, ControlError) as error:
            return fail(f"the daemon could not rotate the token: {error}")
        where = "the daemon now accepts only the new one"
    else:
        write_token(paths.token_file, new_token())
        where = "the daemon is not running; it will use the new one when it starts"
    print(
        f"New token in {paths.token_file}; {where}. Shells holding the old one in "
        'AWS_CONTAINER_AUTHORIZATION_TOKEN need `eval "$(stsd env)"` again; SDKs that read '
        "only the file (`stsd env --no-token-env`) follow on their own."
    )
    return 0
