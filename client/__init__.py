"""The `stsd` command line: a thin client of the daemon.

Hot commands (`env`, `status`, `login`, `credential-process`) use the standard library
only, so they start in tens of milliseconds and never import boto3 or aiohttp.
"""

__all__: list[str] = []
