"""A strict local STS for tests, benchmarks and ``stsd demo``.

Modules: ``config`` (users, roles, TOML), ``server`` (``create_app``), ``control`` (client
for the control API), ``process`` (``EmulatorProcess``), ``embedded`` (in a thread),
``cli`` (``stsd emulator``). Importing this package loads none of them.
"""

__all__: list[str] = []
